// What bounds BatchNorm's forward passes on CNHW channels (M values each, in L2 while its passes run
// back to back)? Per channel: the statistics (mean, then squared deviations; four accumulators, or a
// chunked one-read form), then the normalise + ReLU stored through the caches or past them (non-temporal).
// Two threads, 256 MB per thread per array, best of three; "GB/s" counts x read and y written once.
// Needs AVX-512; never in CI:
//   clang -O2 -mavx512f -mfma scripts/probes/bn_passes.c -o /tmp/bn_passes -lpthread && /tmp/bn_passes 50176
// Seen on a Zen 4, 2 cores (2026-12-05), M = 50,176: cached stores 33–35 GB/s, streamed 55–63 GB/s;
// M = 12,544 and 200,704 alike. So strdist's BatchNorm streams its stores when
// the tensor outgrows half the L3 (its statistics' second read, from L2, cost less than the stores).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <immintrin.h>
#include <pthread.h>
#define N (64L<<20)
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
typedef struct {float *x,*y; int mode; long m;} arg;
static inline float hsum4(__m512 a,__m512 b,__m512 c,__m512 d){return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a,b),_mm512_add_ps(c,d)));}
static void* run(void*p){arg*a=p; float*x=a->x,*y=a->y; long n=N, m=a->m; int mode=a->mode;
 for(long c=0;c+m<=n;c+=m){ const float*xc=x+c; float mu,v;
  if(mode&1){ // 3pass, 4 acc
   __m512 s0=_mm512_setzero_ps(),s1=s0,s2=s0,s3=s0; for(long i=0;i<m;i+=64){s0=_mm512_add_ps(s0,_mm512_loadu_ps(xc+i));s1=_mm512_add_ps(s1,_mm512_loadu_ps(xc+i+16));s2=_mm512_add_ps(s2,_mm512_loadu_ps(xc+i+32));s3=_mm512_add_ps(s3,_mm512_loadu_ps(xc+i+48));}
   mu=hsum4(s0,s1,s2,s3)/m; __m512 mv=_mm512_set1_ps(mu); s0=_mm512_setzero_ps();s1=s0;s2=s0;s3=s0;
   for(long i=0;i<m;i+=64){__m512 d0=_mm512_sub_ps(_mm512_loadu_ps(xc+i),mv),d1=_mm512_sub_ps(_mm512_loadu_ps(xc+i+16),mv),d2=_mm512_sub_ps(_mm512_loadu_ps(xc+i+32),mv),d3=_mm512_sub_ps(_mm512_loadu_ps(xc+i+48),mv);
     s0=_mm512_fmadd_ps(d0,d0,s0);s1=_mm512_fmadd_ps(d1,d1,s1);s2=_mm512_fmadd_ps(d2,d2,s2);s3=_mm512_fmadd_ps(d3,d3,s3);} v=hsum4(s0,s1,s2,s3)/m;
  } else { // chunked 1-read: chunks of 1024 two-pass in L1, Chan combine
   double S=0, M2=0; long cnt=0;
   for(long j=0;j<m;j+=1024){ long L=m-j<1024?m-j:1024; const float*q=xc+j; __m512 s0=_mm512_setzero_ps(),s1=s0;
     for(long i=0;i<L;i+=32){s0=_mm512_add_ps(s0,_mm512_loadu_ps(q+i));s1=_mm512_add_ps(s1,_mm512_loadu_ps(q+i+16));}
     float cm=_mm512_reduce_add_ps(_mm512_add_ps(s0,s1))/L; __m512 mv=_mm512_set1_ps(cm); s0=_mm512_setzero_ps();s1=s0;
     for(long i=0;i<L;i+=32){__m512 d0=_mm512_sub_ps(_mm512_loadu_ps(q+i),mv),d1=_mm512_sub_ps(_mm512_loadu_ps(q+i+16),mv);s0=_mm512_fmadd_ps(d0,d0,s0);s1=_mm512_fmadd_ps(d1,d1,s1);}
     float cm2=_mm512_reduce_add_ps(_mm512_add_ps(s0,s1));
     if(cnt==0){S=cm;M2=cm2;cnt=L;} else {double d=cm-S; long t=cnt+L; S+=d*L/t; M2+=cm2+d*d*(double)cnt*L/t; cnt=t;} }
   mu=S; v=M2/m; }
  __m512 mv=_mm512_set1_ps(mu), sc=_mm512_set1_ps(1/(v+1e-5f)), z=_mm512_setzero_ps();
  if(mode&2) for(long i=0;i<m;i+=16) _mm512_stream_ps(y+c+i,_mm512_max_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(xc+i),mv),sc),z));
  else for(long i=0;i<m;i+=16) _mm512_storeu_ps(y+c+i,_mm512_max_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(xc+i),mv),sc),z));
 } return 0;}
int main(int argc,char**argv){int T=2; long m=atol(argv[1]); arg a[4]; pthread_t th[4];
 for(int t=0;t<T;t++){a[t].x=aligned_alloc(2<<20,N*4);a[t].y=aligned_alloc(2<<20,N*4);memset(a[t].x,1,N*4);memset(a[t].y,1,N*4);a[t].m=m;}
 const char*names[]={"chunked 1read, store","3pass 4acc, store","chunked 1read, stream","3pass 4acc, stream"};
 for(int mode=0;mode<4;mode++){ double best=1e9; for(int r=0;r<3;r++){ for(int t=0;t<T;t++)a[t].mode=mode; double t0=now(); for(int t=0;t<T;t++)pthread_create(&th[t],0,run,&a[t]); for(int t=0;t<T;t++)pthread_join(th[t],0); double d=now()-t0; if(d<best)best=d;}
  printf("m=%ld %-24s %.1f GB/s (x+y once)\n",m,names[mode],2.0*N*4*T/best/1e9);}
}
