/* SPDX-License-Identifier: MIT */
/* Never run: linked against libarchive and libcrypto so that packaging
 * tools see the libraries libpycompile-repro loads with dlopen. */
#include <archive.h>
#include <openssl/crypto.h>

int
main(void)
{
    return archive_version_number() > 0 && OpenSSL_version_num() > 0 ? 0 : 1;
}
