#ifndef OMNI_VERSION_H
#define OMNI_VERSION_H
#define OMNI_VERSION "0.1.0"
#endif
