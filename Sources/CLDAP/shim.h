#ifndef ACCESSSYNC_CLDAP_SHIM_H
#define ACCESSSYNC_CLDAP_SHIM_H
#include <ldap.h>
#include <lber.h>
#endif
