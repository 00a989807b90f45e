#ifndef GNOMON_CPROTOBUFC_SHIM_H
#define GNOMON_CPROTOBUFC_SHIM_H
#include <protobuf-c/protobuf-c.h>
#endif
