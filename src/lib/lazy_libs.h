/* SPDX-License-Identifier: MIT */
/*
 * lazy_libs.h - libarchive and libcrypto, loaded with dlopen on first use.
 *
 * Linked the ordinary way, the two libraries and what they pull in (ICU,
 * libxml2, nettle, ...) cost about 11 ms at every start of the program,
 * a quarter of compiling one small file.  Most runs use neither: only
 * archives need libarchive, and only the cache, wheels' RECORD and
 * --version need libcrypto.  The files that use them include this header
 * instead of <archive.h> and <openssl/evp.h>: every function they call is
 * then a pointer, filled by pcr_lazy_archive() or pcr_lazy_crypto(), which
 * the entry points call (and which fail with a message when the library
 * cannot be loaded).
 */
#ifndef PCR_LAZY_LIBS_H
#define PCR_LAZY_LIBS_H

#if !defined(PCR_BUILDING_LIBRARY)
#error "a private header of libpycompile-repro: use pycompile_repro.h"
#endif

#include <archive.h>
#include <archive_entry.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common.h" /* pcr_status, pcr_error */

pcr_status pcr_lazy_archive(pcr_error *err);
pcr_status pcr_lazy_crypto(pcr_error *err);

#define PCR_ARCHIVE_FUNCS(X)                                                  \
    X(archive_entry_clear)                                                    \
    X(archive_entry_filetype)                                                 \
    X(archive_entry_free)                                                     \
    X(archive_entry_hardlink)                                                 \
    X(archive_entry_new)                                                      \
    X(archive_entry_pathname)                                                 \
    X(archive_entry_pathname_utf8)                                            \
    X(archive_entry_perm)                                                     \
    X(archive_entry_set_filetype)                                             \
    X(archive_entry_set_gid)                                                  \
    X(archive_entry_set_gname)                                                \
    X(archive_entry_set_mtime)                                                \
    X(archive_entry_set_pathname)                                             \
    X(archive_entry_set_perm)                                                 \
    X(archive_entry_set_size)                                                 \
    X(archive_entry_set_uid)                                                  \
    X(archive_entry_set_uname)                                                \
    X(archive_error_string)                                                   \
    X(archive_read_data)                                                      \
    X(archive_read_free)                                                      \
    X(archive_read_new)                                                       \
    X(archive_read_next_header)                                               \
    X(archive_read_open_fd)                                                   \
    X(archive_read_set_options)                                               \
    X(archive_read_support_filter_all)                                        \
    X(archive_read_support_format_raw)                                        \
    X(archive_read_support_format_tar)                                        \
    X(archive_read_support_format_zip_seekable)                               \
    X(archive_read_support_format_zip_streamable)                             \
    X(archive_version_details)                                                \
    X(archive_write_add_filter_gzip)                                          \
    X(archive_write_add_filter_xz)                                            \
    X(archive_write_add_filter_zstd)                                          \
    X(archive_write_close)                                                    \
    X(archive_write_data)                                                     \
    X(archive_write_free)                                                     \
    X(archive_write_header)                                                   \
    X(archive_write_new)                                                      \
    X(archive_write_open_fd)                                                  \
    X(archive_write_set_format_pax_restricted)                                \
    X(archive_write_set_format_zip)                                           \
    X(archive_write_set_options)                                              \
    X(archive_write_zip_set_compression_deflate)

#define PCR_CRYPTO_FUNCS(X)                                                   \
    X(EVP_Digest)                                                             \
    X(EVP_DigestFinal_ex)                                                     \
    X(EVP_DigestInit_ex)                                                      \
    X(EVP_DigestUpdate)                                                       \
    X(EVP_MD_CTX_free)                                                        \
    X(EVP_MD_CTX_new)                                                         \
    X(EVP_sha256)                                                             \
    X(OpenSSL_version)

#define PCR_LAZY_DECLARE(f) extern __typeof__(f) *pcr_lazy_##f;
PCR_ARCHIVE_FUNCS(PCR_LAZY_DECLARE)
PCR_CRYPTO_FUNCS(PCR_LAZY_DECLARE)
#undef PCR_LAZY_DECLARE

#ifndef PCR_LAZY_LIBS_IMPL
#define archive_entry_clear (*pcr_lazy_archive_entry_clear)
#define archive_entry_filetype (*pcr_lazy_archive_entry_filetype)
#define archive_entry_free (*pcr_lazy_archive_entry_free)
#define archive_entry_hardlink (*pcr_lazy_archive_entry_hardlink)
#define archive_entry_new (*pcr_lazy_archive_entry_new)
#define archive_entry_pathname (*pcr_lazy_archive_entry_pathname)
#define archive_entry_pathname_utf8 (*pcr_lazy_archive_entry_pathname_utf8)
#define archive_entry_perm (*pcr_lazy_archive_entry_perm)
#define archive_entry_set_filetype (*pcr_lazy_archive_entry_set_filetype)
#define archive_entry_set_gid (*pcr_lazy_archive_entry_set_gid)
#define archive_entry_set_gname (*pcr_lazy_archive_entry_set_gname)
#define archive_entry_set_mtime (*pcr_lazy_archive_entry_set_mtime)
#define archive_entry_set_pathname (*pcr_lazy_archive_entry_set_pathname)
#define archive_entry_set_perm (*pcr_lazy_archive_entry_set_perm)
#define archive_entry_set_size (*pcr_lazy_archive_entry_set_size)
#define archive_entry_set_uid (*pcr_lazy_archive_entry_set_uid)
#define archive_entry_set_uname (*pcr_lazy_archive_entry_set_uname)
#define archive_error_string (*pcr_lazy_archive_error_string)
#define archive_read_data (*pcr_lazy_archive_read_data)
#define archive_read_free (*pcr_lazy_archive_read_free)
#define archive_read_new (*pcr_lazy_archive_read_new)
#define archive_read_next_header (*pcr_lazy_archive_read_next_header)
#define archive_read_open_fd (*pcr_lazy_archive_read_open_fd)
#define archive_read_set_options (*pcr_lazy_archive_read_set_options)
#define archive_read_support_filter_all                                       \
    (*pcr_lazy_archive_read_support_filter_all)
#define archive_read_support_format_raw                                       \
    (*pcr_lazy_archive_read_support_format_raw)
#define archive_read_support_format_tar                                       \
    (*pcr_lazy_archive_read_support_format_tar)
#define archive_read_support_format_zip_seekable                              \
    (*pcr_lazy_archive_read_support_format_zip_seekable)
#define archive_read_support_format_zip_streamable                            \
    (*pcr_lazy_archive_read_support_format_zip_streamable)
#define archive_version_details (*pcr_lazy_archive_version_details)
#define archive_write_add_filter_gzip (*pcr_lazy_archive_write_add_filter_gzip)
#define archive_write_add_filter_xz (*pcr_lazy_archive_write_add_filter_xz)
#define archive_write_add_filter_zstd (*pcr_lazy_archive_write_add_filter_zstd)
#define archive_write_close (*pcr_lazy_archive_write_close)
#define archive_write_data (*pcr_lazy_archive_write_data)
#define archive_write_free (*pcr_lazy_archive_write_free)
#define archive_write_header (*pcr_lazy_archive_write_header)
#define archive_write_new (*pcr_lazy_archive_write_new)
#define archive_write_open_fd (*pcr_lazy_archive_write_open_fd)
#define archive_write_set_format_pax_restricted                               \
    (*pcr_lazy_archive_write_set_format_pax_restricted)
#define archive_write_set_format_zip (*pcr_lazy_archive_write_set_format_zip)
#define archive_write_set_options (*pcr_lazy_archive_write_set_options)
#define archive_write_zip_set_compression_deflate                             \
    (*pcr_lazy_archive_write_zip_set_compression_deflate)
#define EVP_Digest (*pcr_lazy_EVP_Digest)
#define EVP_DigestFinal_ex (*pcr_lazy_EVP_DigestFinal_ex)
#define EVP_DigestInit_ex (*pcr_lazy_EVP_DigestInit_ex)
#define EVP_DigestUpdate (*pcr_lazy_EVP_DigestUpdate)
#define EVP_MD_CTX_free (*pcr_lazy_EVP_MD_CTX_free)
#define EVP_MD_CTX_new (*pcr_lazy_EVP_MD_CTX_new)
#define EVP_sha256 (*pcr_lazy_EVP_sha256)
#define OpenSSL_version (*pcr_lazy_OpenSSL_version)
#endif

#endif
