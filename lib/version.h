/* version — the release every program reports with --version and in its User-Agent. */
#ifndef OMNI_VERSION_H
#define OMNI_VERSION_H
#define OMNI_VERSION "0.1.0"
#endif
