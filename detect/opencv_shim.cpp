#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/objdetect.hpp>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "opencv_shim.h"

int vigil_set_num_threads(int n) {
    int prev = cv::getNumThreads();
    cv::setNumThreads(n);
    return prev;
}

int vigil_get_num_threads(void) {
    return cv::getNumThreads();
}

static void set_err(char* err, size_t errlen, const char* msg) {
    if (errlen == 0) {
        return;
    }
    std::strncpy(err, msg, errlen - 1);
    err[errlen - 1] = 0;
}

// vigil_onnx_probe loads an ONNX model from memory and runs it once on a
// 1×channels×height×width blob of 0.5s, up to the named output (the last
// layer if output is empty). It returns how many values the output holds,
// or -1 with the reason in err.
long vigil_onnx_probe(const char* model, size_t len, int width, int height, int channels, const char* output, char* err, size_t errlen) {
    try {
        cv::dnn::Net net = cv::dnn::readNetFromONNX(model, len);
        if (net.empty()) {
            set_err(err, errlen, "the model has no layers");
            return -1;
        }
        int shape[] = {1, channels, height, width};
        cv::Mat blob(4, shape, CV_32F, cv::Scalar(0.5));
        net.setInput(blob);
        cv::Mat out = net.forward(output);
        if (out.depth() != CV_32F) {
            set_err(err, errlen, "the model's output is not float32");
            return -1;
        }
        return (long)out.total();
    } catch (const std::exception& e) {
        set_err(err, errlen, e.what());
    } catch (...) {
        set_err(err, errlen, "unknown C++ exception");
    }
    return -1;
}

// vigil_cascade_check loads a cascade classifier file. It returns 1 if
// OpenCV can use it, else 0 with the reason in err.
int vigil_cascade_check(const char* path, char* err, size_t errlen) {
    try {
        cv::CascadeClassifier cc;
        if (!cc.load(path) || cc.empty()) {
            set_err(err, errlen, "not a cascade classifier");
            return 0;
        }
        return 1;
    } catch (const std::exception& e) {
        set_err(err, errlen, e.what());
    } catch (...) {
        set_err(err, errlen, "unknown C++ exception");
    }
    return 0;
}

// vigil_imdecode decodes an image to 8-bit BGR. On success it returns 0
// and the pixels in a malloc'd buffer of rows*cols*3 bytes the caller
// frees; -1 when the bytes do not decode (reason in err); -2 when the image
// has more than max_pixels pixels.
int vigil_imdecode(const void* buf, size_t len, long long max_pixels, int* rows, int* cols, unsigned char** data, char* err, size_t errlen) {
    try {
        cv::Mat raw(1, (int)len, CV_8UC1, const_cast<void*>(buf));
        cv::Mat img = cv::imdecode(raw, cv::IMREAD_COLOR);
        if (img.empty()) {
            set_err(err, errlen, "not an image OpenCV can decode");
            return -1;
        }
        *rows = img.rows;
        *cols = img.cols;
        if ((long long)img.rows * img.cols > max_pixels) {
            return -2;
        }
        if (img.type() != CV_8UC3) {
            set_err(err, errlen, "decoded image is not 8-bit BGR");
            return -1;
        }
        if (!img.isContinuous()) {
            img = img.clone();
        }
        size_t n = img.total() * img.elemSize();
        unsigned char* out = (unsigned char*)std::malloc(n);
        if (out == NULL) {
            set_err(err, errlen, "out of memory");
            return -1;
        }
        std::memcpy(out, img.data, n);
        *data = out;
        return 0;
    } catch (const std::exception& e) {
        set_err(err, errlen, e.what());
    } catch (...) {
        set_err(err, errlen, "unknown C++ exception");
    }
    return -1;
}
