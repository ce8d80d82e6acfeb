// Nothing to import: the fuzz binary's entry point lives in fuzz_main.c.
#ifndef CFUZZMAIN_H
#define CFUZZMAIN_H
#endif
