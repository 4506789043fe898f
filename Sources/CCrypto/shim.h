#ifndef TENANCY_CCRYPTO_SHIM_H
#define TENANCY_CCRYPTO_SHIM_H

// OpenSSL's libcrypto (apt: libssl-dev): the one-shot HMAC function and the SHA-256 digest.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#endif
