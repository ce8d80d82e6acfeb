// CJPEG: JPEG decode/encode in memory through libjpeg-turbo.
// libjpeg reports errors with longjmp; these wrappers catch them and return
// a non-zero code with the library's message, so Swift never sees a jump.
#ifndef CJPEG_H
#define CJPEG_H
#include <stddef.h>
#include <stdint.h>

#define CJPEG_MESSAGE_LENGTH 200

typedef struct {
    int width;          // size of what was decoded (after DCT-domain scaling and cropping)
    int height;
    int source_width;   // size stored in the file
    int source_height;
    int scaled_width;   // whole image at 1/scale_denom
    int scaled_height;
    int x, y;           // top-left of the decoded region in the scaled image
    char message[CJPEG_MESSAGE_LENGTH];
} cjpeg_info;

// Reads the header only: source size, and the output size at 1/scale_denom.
int cjpeg_read_header(const uint8_t *data, size_t size, int scale_denom, cjpeg_info *info);

// Decodes to interleaved RGB (grayscale and CMYK/YCCK converted) at
// 1/scale_denom (1, 2, 4 or 8). `out` holds capacity bytes; it must fit
// width*height*3 as reported by cjpeg_read_header with the same scale.
int cjpeg_decode_rgb(const uint8_t *data, size_t size, int scale_denom,
                     uint8_t *out, size_t capacity, cjpeg_info *info);

// Encodes interleaved RGB (channels 3) or grayscale (channels 1) at quality
// 1..100 into a buffer malloc'ed by libjpeg; free it with cjpeg_free.
int cjpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                 uint8_t **out, unsigned long *out_size, char *message);
void cjpeg_free(void *p);

// Decodes only rows [y, y + h) and at least columns [x, x + w) of the image at
// 1/scale_denom, to interleaved RGB rows of info->width pixels. Columns widen
// to the codec's block grid: info->x and info->width say what was decoded.
// Rows above are skipped without IDCT, rows below are not decoded. w or h <= 0
// decodes the whole image. Returns 0, 1 (error), 2 (buffer too small) or 3
// (decoded with a corrupt-data warning); info->message says why.
int cjpeg_decode_region(const uint8_t *data, size_t size, int scale_denom, int x, int y, int w, int h,
                        uint8_t *out, size_t capacity, cjpeg_info *info);

#endif
