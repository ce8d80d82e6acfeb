// Does reading the sparse kernels' packed B tile as bf16 (convert-on-load: half the bytes, two more
// integer ops per FMA) speed up the SpMM's inner loop? One thread, one 64-column tile, random masks of
// the given density, the same loop shape as CSparse's spmm_tile. Needs AVX512_BF16; never in CI:
//   clang -O3 scripts/probes/spmm_bf16_load.c -o /tmp/spmm_bf16 && /tmp/spmm_bf16 256 2304 0.1
// Seen on a Zen 4 (2026-12-03): 0.88–1.15× of the fp32 tile at 10% density — not worth a bf16 SpMM.
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static void f32(int rows,const int*st,const int*off,const float*val,const float*pack,float*c){
  for(int i=0;i<rows;i++){ __m512 a0=_mm512_setzero_ps(),a1=a0,a2=a0,a3=a0;
    for(int e=st[i];e<st[i+1];e++){ __m512 x=_mm512_set1_ps(val[e]); const float*b=pack+(int64_t)off[e]*64;
      a0=_mm512_fmadd_ps(x,_mm512_loadu_ps(b),a0);a1=_mm512_fmadd_ps(x,_mm512_loadu_ps(b+16),a1);
      a2=_mm512_fmadd_ps(x,_mm512_loadu_ps(b+32),a2);a3=_mm512_fmadd_ps(x,_mm512_loadu_ps(b+48),a3);}
    _mm512_storeu_ps(c+i*64,a0);_mm512_storeu_ps(c+i*64+16,a1);_mm512_storeu_ps(c+i*64+32,a2);_mm512_storeu_ps(c+i*64+48,a3);}
}
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static void bf(int rows,const int*st,const int*off,const float*val,const uint16_t*pack,float*c){
  for(int i=0;i<rows;i++){ __m512 a0=_mm512_setzero_ps(),a1=a0,a2=a0,a3=a0;
    for(int e=st[i];e<st[i+1];e++){ __m512 x=_mm512_set1_ps(val[e]); const uint16_t*b=pack+(int64_t)off[e]*64;
      __m512i lo=_mm512_loadu_si512(b), hi=_mm512_loadu_si512(b+32);
      a0=_mm512_fmadd_ps(x,_mm512_cvtpbh_ps((__m256bh)_mm512_castsi512_si256(lo)),a0);
      a1=_mm512_fmadd_ps(x,_mm512_cvtpbh_ps((__m256bh)_mm512_extracti64x4_epi64(lo,1)),a1);
      a2=_mm512_fmadd_ps(x,_mm512_cvtpbh_ps((__m256bh)_mm512_castsi512_si256(hi)),a2);
      a3=_mm512_fmadd_ps(x,_mm512_cvtpbh_ps((__m256bh)_mm512_extracti64x4_epi64(hi,1)),a3);}
    _mm512_storeu_ps(c+i*64,a0);_mm512_storeu_ps(c+i*64+16,a1);_mm512_storeu_ps(c+i*64+32,a2);_mm512_storeu_ps(c+i*64+48,a3);}
}
int main(int argc,char**argv){
  int rows=atoi(argv[1]),K=atoi(argv[2]); double dens=atof(argv[3]);
  int*st=malloc(4*(rows+1)); int*off=malloc(4L*rows*K); float*val=malloc(4L*rows*K); int n=0; st[0]=0;
  for(int i=0;i<rows;i++){for(int k=0;k<K;k++) if(rand()<dens*RAND_MAX){off[n]=k;val[n]=0.01f;n++;} st[i+1]=n;}
  float*pf=aligned_alloc(64,4L*K*64); uint16_t*pb=aligned_alloc(64,2L*K*64); float*c=aligned_alloc(64,4L*rows*64);
  for(long i=0;i<K*64L;i++){pf[i]=1;pb[i]=0x3f80;}
  int reps=200; double t0=now(); for(int r=0;r<reps;r++) f32(rows,st,off,val,pf,c); double tf=(now()-t0)/reps;
  t0=now(); for(int r=0;r<reps;r++) bf(rows,st,off,val,pb,c); double tb=(now()-t0)/reps;
  printf("rows %d K %d density %.2f entries %d: fp32 tile %.1f us (%.1f GF/s), bf16-load %.1f us, ratio %.2f\n",rows,K,dens,n,tf*1e6,2.0*n*64/tf/1e9,tb*1e6,tf/tb);
}
