#ifndef ACCESSSYNC_CLIBPQ_SHIM_H
#define ACCESSSYNC_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
