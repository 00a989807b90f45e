#ifndef GNOMON_CLIBPQ_SHIM_H
#define GNOMON_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
