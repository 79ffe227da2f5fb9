// A small C interface to the parts of OpenCV that gocv v0.31.0 does not
// reach: the thread count, and the calls on untrusted input (uploaded
// images, configured files) with their C++ exceptions caught, where gocv
// lets them abort the process.
#ifndef VIGIL_DETECT_OPENCV_SHIM_H
#define VIGIL_DETECT_OPENCV_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

int vigil_set_num_threads(int n);
int vigil_get_num_threads(void);
int vigil_cascade_check(const char* path, char* err, size_t errlen);
int vigil_imdecode(const void* buf, size_t len, long long max_pixels, int* rows, int* cols, unsigned char** data, char* err, size_t errlen);
long vigil_onnx_probe(const char* model, size_t len, int width, int height, int channels, const char* output, char* err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
