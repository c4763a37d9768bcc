#ifndef ACCESSSYNC_CLDAP_SHIM_H
#define ACCESSSYNC_CLDAP_SHIM_H
#include <ldap.h>
#include <lber.h>
#include <sys/time.h>

/*
 * Helpers for what Swift cannot import from <ldap.h>: macros that are casts or pointers
 * (LDAP_OPT_ON/OFF, LDAP_RES_*, LDAP_SCOPE_*) and option calls that take a pointer to a
 * stack value. Everything is prefixed `cldap_`. Only LDAPBridge's Raw layer imports this module.
 */

static const int cldap_res_bind = (int)LDAP_RES_BIND;
static const int cldap_res_search_entry = (int)LDAP_RES_SEARCH_ENTRY;
static const int cldap_res_search_reference = (int)LDAP_RES_SEARCH_REFERENCE;
static const int cldap_res_search_result = (int)LDAP_RES_SEARCH_RESULT;
static const int cldap_res_modify = (int)LDAP_RES_MODIFY;
static const int cldap_res_add = (int)LDAP_RES_ADD;
static const int cldap_res_delete = (int)LDAP_RES_DELETE;
static const int cldap_res_compare = (int)LDAP_RES_COMPARE;
static const int cldap_res_extended = (int)LDAP_RES_EXTENDED;

static const int cldap_scope_base = (int)LDAP_SCOPE_BASE;
static const int cldap_scope_one = (int)LDAP_SCOPE_ONELEVEL;
static const int cldap_scope_sub = (int)LDAP_SCOPE_SUBTREE;
static const int cldap_scope_children = (int)LDAP_SCOPE_CHILDREN;

/* Boolean options take LDAP_OPT_ON / LDAP_OPT_OFF, which are pointers, not values. */
static inline int cldap_set_bool_option(LDAP *ld, int option, int on) {
    return ldap_set_option(ld, option, on ? LDAP_OPT_ON : LDAP_OPT_OFF);
}

static inline int cldap_set_int_option(LDAP *ld, int option, int value) {
    return ldap_set_option(ld, option, &value);
}

static inline int cldap_get_int_option(LDAP *ld, int option, int *value) {
    return ldap_get_option(ld, option, value);
}

static inline int cldap_set_string_option(LDAP *ld, int option, const char *value) {
    return ldap_set_option(ld, option, value);
}

/* Reads a string option; the caller frees *value with ldap_memfree. */
static inline int cldap_get_string_option(LDAP *ld, int option, char **value) {
    *value = NULL;
    return ldap_get_option(ld, option, value);
}

/* Timeouts (LDAP_OPT_NETWORK_TIMEOUT, LDAP_OPT_TIMEOUT) are passed as struct timeval *. */
static inline int cldap_set_timeout_option(LDAP *ld, int option, long microseconds) {
    struct timeval tv;
    tv.tv_sec = microseconds / 1000000;
    tv.tv_usec = microseconds % 1000000;
    return ldap_set_option(ld, option, &tv);
}

/* Installs a new TLS context on this handle after per-handle TLS options were set. */
static inline int cldap_new_tls_context(LDAP *ld) {
    int is_server = 0;
    return ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &is_server);
}

/* ldap_result with a timeout in microseconds (negative: wait forever). */
static inline int cldap_result(LDAP *ld, int msgid, int all, long microseconds, LDAPMessage **result) {
    if (microseconds < 0) {
        return ldap_result(ld, msgid, all, NULL, result);
    }
    struct timeval tv;
    tv.tv_sec = microseconds / 1000000;
    tv.tv_usec = microseconds % 1000000;
    return ldap_result(ld, msgid, all, &tv, result);
}

/* ldap_search_ext with a client-side time limit in microseconds (negative: none). */
static inline int cldap_search_ext(LDAP *ld, const char *base, int scope, const char *filter, char **attrs,
                                   LDAPControl **serverctrls, long microseconds, int sizelimit, int *msgidp) {
    if (microseconds < 0) {
        return ldap_search_ext(ld, base, scope, filter, attrs, 0, serverctrls, NULL, NULL, sizelimit, msgidp);
    }
    struct timeval tv;
    tv.tv_sec = microseconds / 1000000;
    tv.tv_usec = microseconds % 1000000;
    return ldap_search_ext(ld, base, scope, filter, attrs, 0, serverctrls, NULL, &tv, sizelimit, msgidp);
}

/* Simple bind (LDAP_SASL_SIMPLE is a NULL mechanism). */
static inline int cldap_simple_bind_s(LDAP *ld, const char *dn, struct berval *password) {
    return ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, password, NULL, NULL, NULL);
}

/* An LDAPMod whose values are bervals (LDAP_MOD_BVALUES), so values may contain any byte. */
static inline void cldap_mod_init(LDAPMod *mod, int op, char *type, struct berval **values) {
    mod->mod_op = op | LDAP_MOD_BVALUES;
    mod->mod_type = type;
    mod->mod_vals.modv_bvals = values;
}

#endif
