// CLibJPEG: libjpeg(-turbo) headers; <stdio.h> must come first.
#ifndef CLIBJPEG_SHIM_H
#define CLIBJPEG_SHIM_H
#include <stdio.h>
#include <jpeglib.h>
#endif
