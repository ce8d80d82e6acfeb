// Does vdpbf16ps pay in the SpMM when kept weights are unstructured? Any two entries of a row pair up:
// their dense rows, bf16, interleaved word by word (vpunpcklwd/hwd), give one vdpbf16ps both products
// for 16 columns — half the loads and half the multiply instructions of the fp32 loop, plus the
// interleave and a permutation of C's tile at the row's end. One thread, one 64-column tile, random
// masks of the given density, CSparse's spmm_tile loop shape; "pairs" reads precomputed bf16 weight
// pairs, "fly" rounds each pair's two fp32 weights as it reads them (what sparse_bf16_avx512.c does).
// Needs AVX512_BF16; never in CI:
//   clang -O3 scripts/probes/spmm_bf16_pairs.c -o /tmp/spmm_pairs && /tmp/spmm_pairs 256 2304 0.1
// Seen on a Zen 4 (2026-12-04): fp32 46–78 GFLOP/s, pairs 1.48–2.13×, fly 1.35–1.84× of fp32 (rows
// 64–512, K 160–4608, density 3–15%); the results equal the fp32 loop's on bf16-exact data.
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define T __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"),noinline))
T static void f32(int rows,const int*st,const int*off,const float*val,const float*pack,float*c){
  for(int i=0;i<rows;i++){ __m512 a0=_mm512_setzero_ps(),a1=a0,a2=a0,a3=a0;
    for(int e=st[i];e<st[i+1];e++){ __m512 x=_mm512_set1_ps(val[e]); const float*b=pack+(int64_t)off[e]*64;
      a0=_mm512_fmadd_ps(x,_mm512_loadu_ps(b),a0);a1=_mm512_fmadd_ps(x,_mm512_loadu_ps(b+16),a1);
      a2=_mm512_fmadd_ps(x,_mm512_loadu_ps(b+32),a2);a3=_mm512_fmadd_ps(x,_mm512_loadu_ps(b+48),a3);}
    _mm512_storeu_ps(c+i*64,a0);_mm512_storeu_ps(c+i*64+16,a1);_mm512_storeu_ps(c+i*64+32,a2);_mm512_storeu_ps(c+i*64+48,a3);}
}
// pairs: pst[i]..pst[i+1] pairs, poff[2p],poff[2p+1], pw[p] = two bf16 (lo = first)
T static void pairs(int rows,const int*pst,const int*poff,const uint32_t*pw,const uint16_t*pack,float*c){
  const __m512i plo=_mm512_setr_epi32(0,1,2,3,16,17,18,19,4,5,6,7,20,21,22,23), phi=_mm512_setr_epi32(8,9,10,11,24,25,26,27,12,13,14,15,28,29,30,31);
  for(int i=0;i<rows;i++){ __m512 a0=_mm512_setzero_ps(),a1=a0,a2=a0,a3=a0;
    for(int p=pst[i];p<pst[i+1];p++){ __m512bh w=(__m512bh)_mm512_set1_epi32((int)pw[p]);
      const uint16_t*b=pack+(int64_t)poff[2*p]*64; const uint16_t*d=pack+(int64_t)poff[2*p+1]*64;
      __m512i b0=_mm512_loadu_si512(b), b1=_mm512_loadu_si512(b+32), d0=_mm512_loadu_si512(d), d1=_mm512_loadu_si512(d+32);
      a0=_mm512_dpbf16_ps(a0,(__m512bh)_mm512_unpacklo_epi16(b0,d0),w);
      a1=_mm512_dpbf16_ps(a1,(__m512bh)_mm512_unpackhi_epi16(b0,d0),w);
      a2=_mm512_dpbf16_ps(a2,(__m512bh)_mm512_unpacklo_epi16(b1,d1),w);
      a3=_mm512_dpbf16_ps(a3,(__m512bh)_mm512_unpackhi_epi16(b1,d1),w);}
    // unpack order: a0 lanes = cols {0-3,8-11,16-19,24-27}, a1 = {4-7,12-15,20-23,28-31}
    _mm512_storeu_ps(c+i*64,_mm512_permutex2var_ps(a0,plo,a1));_mm512_storeu_ps(c+i*64+16,_mm512_permutex2var_ps(a0,phi,a1));
    _mm512_storeu_ps(c+i*64+32,_mm512_permutex2var_ps(a2,plo,a3));_mm512_storeu_ps(c+i*64+48,_mm512_permutex2var_ps(a2,phi,a3));}
}
T static void fly(int rows,const int*st,const int*off,const float*val,const uint16_t*pack,float*c){
  const __m512i plo=_mm512_setr_epi32(0,1,2,3,16,17,18,19,4,5,6,7,20,21,22,23), phi=_mm512_setr_epi32(8,9,10,11,24,25,26,27,12,13,14,15,28,29,30,31);
  for(int i=0;i<rows;i++){ __m512 a0=_mm512_setzero_ps(),a1=a0,a2=a0,a3=a0; int e=st[i],e1=st[i+1];
    for(;e+2<=e1;e+=2){ __m128 wv=_mm_castpd_ps(_mm_load_sd((const double*)(val+e)));
      __m512bh w=(__m512bh)_mm512_broadcastd_epi32(_mm_castps_si128((__m128)_mm_cvtneps_pbh(wv)));
      const uint16_t*b=pack+(int64_t)off[e]*64; const uint16_t*d=pack+(int64_t)off[e+1]*64;
      __m512i b0=_mm512_loadu_si512(b), b1=_mm512_loadu_si512(b+32), d0=_mm512_loadu_si512(d), d1=_mm512_loadu_si512(d+32);
      a0=_mm512_dpbf16_ps(a0,(__m512bh)_mm512_unpacklo_epi16(b0,d0),w);
      a1=_mm512_dpbf16_ps(a1,(__m512bh)_mm512_unpackhi_epi16(b0,d0),w);
      a2=_mm512_dpbf16_ps(a2,(__m512bh)_mm512_unpacklo_epi16(b1,d1),w);
      a3=_mm512_dpbf16_ps(a3,(__m512bh)_mm512_unpackhi_epi16(b1,d1),w);}
    if(e<e1){ __m128 wv=_mm_load_ss(val+e);
      __m512bh w=(__m512bh)_mm512_broadcastd_epi32(_mm_castps_si128((__m128)_mm_cvtneps_pbh(wv)));
      const uint16_t*b=pack+(int64_t)off[e]*64; __m512i z=_mm512_setzero_si512();
      __m512i b0=_mm512_loadu_si512(b), b1=_mm512_loadu_si512(b+32);
      a0=_mm512_dpbf16_ps(a0,(__m512bh)_mm512_unpacklo_epi16(b0,z),w);
      a1=_mm512_dpbf16_ps(a1,(__m512bh)_mm512_unpackhi_epi16(b0,z),w);
      a2=_mm512_dpbf16_ps(a2,(__m512bh)_mm512_unpacklo_epi16(b1,z),w);
      a3=_mm512_dpbf16_ps(a3,(__m512bh)_mm512_unpackhi_epi16(b1,z),w);}
    _mm512_storeu_ps(c+i*64,_mm512_permutex2var_ps(a0,plo,a1));_mm512_storeu_ps(c+i*64+16,_mm512_permutex2var_ps(a0,phi,a1));
    _mm512_storeu_ps(c+i*64+32,_mm512_permutex2var_ps(a2,plo,a3));_mm512_storeu_ps(c+i*64+48,_mm512_permutex2var_ps(a2,phi,a3));}
}
static uint16_t tobf(float f){uint32_t u;memcpy(&u,&f,4);return (uint16_t)((u+0x7fff+((u>>16)&1))>>16);}
int main(int argc,char**argv){
  int rows=atoi(argv[1]),K=atoi(argv[2]); double dens=atof(argv[3]);
  int*st=malloc(4*(rows+1)); int*off=malloc(4L*rows*K); float*val=malloc(4L*rows*K); int n=0; st[0]=0;
  int*pst=malloc(4*(rows+1)); int*poff=malloc(8L*rows*K); uint32_t*pw=malloc(4L*rows*K); int np=0; pst[0]=0;
  for(int i=0;i<rows;i++){for(int k=0;k<K;k++) if(rand()<dens*RAND_MAX){off[n]=k;val[n]=(rand()%200-100)/64.0f;n++;} st[i+1]=n;
    for(int e=st[i];e<st[i+1];e+=2){ int e2=e+1<st[i+1]?e+1:-1; poff[2*np]=off[e]; poff[2*np+1]=e2>=0?off[e2]:off[e];
      pw[np]=tobf(val[e]) | ((uint32_t)(e2>=0?tobf(val[e2]):0)<<16); np++;} pst[i+1]=np;}
  float*pf=aligned_alloc(64,4L*K*64); uint16_t*pb=aligned_alloc(64,2L*K*64); float*c=aligned_alloc(64,4L*rows*64),*c2=aligned_alloc(64,4L*rows*64);
  for(long i=0;i<K*64L;i++){pf[i]=(rand()%64-32)/16.0f;pb[i]=tobf(pf[i]);}
  f32(rows,st,off,val,pf,c); pairs(rows,pst,poff,pw,pb,c2); double md=0; for(long i=0;i<rows*64L;i++){double d=c[i]-c2[i]; if(d<0)d=-d; if(d>md)md=d;}
  double m2=0; fly(rows,st,off,val,pb,c2); for(long i=0;i<rows*64L;i++){double d=c[i]-c2[i]; if(d<0)d=-d; if(d>m2)m2=d;} printf("fly maxdiff %g ",m2);
  int reps=400; double tf=1e9,tp=1e9,tq=1e9;
  for(int round=0;round<3;round++){
  double t0=now(); for(int r=0;r<reps;r++) f32(rows,st,off,val,pf,c); double t=(now()-t0)/reps; if(t<tf)tf=t;
  t0=now(); for(int r=0;r<reps;r++) pairs(rows,pst,poff,pw,pb,c2); t=(now()-t0)/reps; if(t<tp)tp=t;
 t0=now(); for(int r=0;r<reps;r++) fly(rows,st,off,val,pb,c2); t=(now()-t0)/reps; if(t<tq)tq=t;}
  printf("rows %d K %d d %.2f: f32 %.1f GF/s  bf16 pairs %.1f GF/s  x%.2f  maxdiff %.3g  fly %.1f GF/s x%.2f\n",rows,K,dens,2.0*n*64/tf/1e9,2.0*n*64/tp/1e9,tf/tp,md,2.0*n*64/tq/1e9,tf/tq);
}
