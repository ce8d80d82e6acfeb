// CJPEG: setjmp-guarded wrappers over libjpeg-turbo (see include/cjpeg.h).
#include "cjpeg.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *message;
} guarded_error;

static void on_error(j_common_ptr cinfo) {
    guarded_error *err = (guarded_error *)cinfo->err;
    if (err->message) (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->jump, 1);
}

// Corrupt-data warnings would otherwise go to stderr; a truncated file is an error.
static void on_message(j_common_ptr cinfo, int level) {
    if (level < 0) {
        guarded_error *err = (guarded_error *)cinfo->err;
        if (cinfo->err->num_warnings++ == 0 && err->message)
            (*cinfo->err->format_message)(cinfo, err->message);
    }
}

static void guard(struct jpeg_decompress_struct *cinfo, guarded_error *err, char *message) {
    cinfo->err = jpeg_std_error(&err->base);
    err->base.error_exit = on_error;
    err->base.emit_message = on_message;
    err->message = message;
    message[0] = 0;
}

static void set_scale(struct jpeg_decompress_struct *cinfo, int scale_denom) {
    cinfo->scale_num = 1;
    cinfo->scale_denom = (scale_denom == 2 || scale_denom == 4 || scale_denom == 8) ? scale_denom : 1;
    // CMYK/YCCK cannot be converted to RGB by libjpeg; convert by hand below.
    if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK)
        cinfo->out_color_space = JCS_CMYK;
    else
        cinfo->out_color_space = JCS_RGB;
    cinfo->dct_method = JDCT_ISLOW;
}

int cjpeg_read_header(const uint8_t *data, size_t size, int scale_denom, cjpeg_info *info) {
    struct jpeg_decompress_struct cinfo;
    guarded_error err;
    guard(&cinfo, &err, info->message);
    if (setjmp(err.jump)) { jpeg_destroy_decompress(&cinfo); return 1; }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    set_scale(&cinfo, scale_denom);
    jpeg_calc_output_dimensions(&cinfo);
    info->source_width = (int)cinfo.image_width;
    info->source_height = (int)cinfo.image_height;
    info->width = info->scaled_width = (int)cinfo.output_width;
    info->height = info->scaled_height = (int)cinfo.output_height;
    info->x = info->y = 0;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

static void cmyk_row_to_rgb(uint8_t *row, int width, int inverted) {
    // Adobe writes inverted CMYK; k scales each channel.
    for (int x = 0; x < width; x++) {
        int c = row[4 * x], m = row[4 * x + 1], y = row[4 * x + 2], k = row[4 * x + 3];
        if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
        row[3 * x] = (uint8_t)(c * k / 255);
        row[3 * x + 1] = (uint8_t)(m * k / 255);
        row[3 * x + 2] = (uint8_t)(y * k / 255);
    }
}

int cjpeg_decode_rgb(const uint8_t *data, size_t size, int scale_denom,
                     uint8_t *out, size_t capacity, cjpeg_info *info) {
    return cjpeg_decode_region(data, size, scale_denom, 0, 0, 0, 0, out, capacity, info);
}

int cjpeg_decode_region(const uint8_t *data, size_t size, int scale_denom, int x, int y, int w, int h,
                        uint8_t *out, size_t capacity, cjpeg_info *info) {
    struct jpeg_decompress_struct cinfo;
    guarded_error err;
    uint8_t *cmyk_row = NULL;
    guard(&cinfo, &err, info->message);
    if (setjmp(err.jump)) { free(cmyk_row); jpeg_destroy_decompress(&cinfo); return 1; }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    set_scale(&cinfo, scale_denom);
    jpeg_start_decompress(&cinfo);
    info->source_width = (int)cinfo.image_width;
    info->source_height = (int)cinfo.image_height;
    info->scaled_width = (int)cinfo.output_width;
    info->scaled_height = (int)cinfo.output_height;
    int full_w = (int)cinfo.output_width, full_h = (int)cinfo.output_height;
    int region = w > 0 && h > 0;
    if (region) {
        if (x < 0) x = 0;
        if (y < 0) y = 0;
        if (x + w > full_w) w = full_w - x;
        if (y + h > full_h) h = full_h - y;
        if (w <= 0 || h <= 0) {
            snprintf(info->message, CJPEG_MESSAGE_LENGTH, "region outside the %dx%d image", full_w, full_h);
            jpeg_destroy_decompress(&cinfo);
            return 2;
        }
    } else { x = 0; y = 0; w = full_w; h = full_h; }
    JDIMENSION xoff = (JDIMENSION)x, width = (JDIMENSION)w;
    if (region && (x > 0 || w < full_w)) jpeg_crop_scanline(&cinfo, &xoff, &width);
    info->x = (int)xoff;
    info->y = y;
    info->width = (int)width;
    info->height = h;
    if ((size_t)width * (size_t)h * 3 > capacity) {
        snprintf(info->message, CJPEG_MESSAGE_LENGTH, "output buffer too small for %ux%d", width, h);
        jpeg_destroy_decompress(&cinfo);
        return 2;
    }
    if (y > 0) jpeg_skip_scanlines(&cinfo, (JDIMENSION)y);
    int cmyk = cinfo.out_color_space == JCS_CMYK;
    if (cmyk) cmyk_row = malloc((size_t)width * 4);
    for (int r = 0; r < h; r++) {
        uint8_t *dst = out + (size_t)r * width * 3;
        JSAMPROW row = cmyk ? cmyk_row : dst;
        jpeg_read_scanlines(&cinfo, &row, 1);
        if (cmyk) {
            cmyk_row_to_rgb(cmyk_row, (int)width, cinfo.saw_Adobe_marker);
            memcpy(dst, cmyk_row, (size_t)width * 3);
        }
    }
    int warned = err.base.num_warnings > 0;
    if (cinfo.output_scanline < cinfo.output_height) jpeg_abort_decompress(&cinfo);
    else jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(cmyk_row);
    return warned ? 3 : 0;
}

int cjpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                 uint8_t **out, unsigned long *out_size, char *message) {
    struct jpeg_compress_struct cinfo;
    guarded_error err;
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = on_error;
    err.message = message;
    message[0] = 0;
    *out = NULL;
    *out_size = 0;
    if (setjmp(err.jump)) { jpeg_destroy_compress(&cinfo); return 1; }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, out, out_size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * width * channels);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return 0;
}

void cjpeg_free(void *p) { free(p); }
