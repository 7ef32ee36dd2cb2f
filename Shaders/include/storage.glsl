// Element types of activation bindings. A variant defines X_F16, Y_F16, A_F16, B_F16 or C_F16 to keep that
// binding in fp16 storage (GL_EXT_shader_16bit_storage); arithmetic and accumulation stay fp32. Declare the
// binding with X_T (etc.) as its element type, load with float(x[i]) and store with STORE_Y(v): an fp16 store
// clamps to ±65504, so an overflow saturates instead of becoming Inf (and a NaN in the next norm).
#if defined(X_F16) || defined(Y_F16) || defined(A_F16) || defined(B_F16) || defined(C_F16)
#extension GL_EXT_shader_16bit_storage : require
#endif
#define F16_STORE(v) float16_t(clamp((v), -65504.0, 65504.0))
#ifdef X_F16
#define X_T float16_t
#define STORE_X(v) F16_STORE(v)
#else
#define X_T float
#define STORE_X(v) (v)
#endif
#ifdef Y_F16
#define Y_T float16_t
#define STORE_Y(v) F16_STORE(v)
#else
#define Y_T float
#define STORE_Y(v) (v)
#endif
#ifdef A_F16
#define A_T float16_t
#else
#define A_T float
#endif
#ifdef B_F16
#define B_T float16_t
#else
#define B_T float
#endif
#ifdef C_F16
#define C_T float16_t
#define STORE_C(v) F16_STORE(v)
#else
#define C_T float
#define STORE_C(v) (v)
#endif
