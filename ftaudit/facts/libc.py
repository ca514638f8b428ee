"""libc functions that are not thread-safe, with the re-entrant replacement where one exists.

Sources: POSIX's list of functions that need not be thread-safe (XSH 2.9.1), clang-tidy's
`concurrency-mt-unsafe` sets, and the hazard catalogue (table A6). One row per function; rules,
docs and messages all read this table. Adding a function is a one-line change.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UnsafeLibcFunction:
    name: str
    why: str  # what is shared between threads
    replacement: str  # what to call instead ("" when there is no re-entrant variant)

    @property
    def per_thread_on_windows(self) -> bool:
        """Microsoft's C runtime keeps this function's buffer or state per thread, so a file built only
        for Windows is safe (the CRT documentation of localtime/gmtime/ctime/asctime/strerror/strtok)."""
        return self.name in WINDOWS_CRT_PER_THREAD


WINDOWS_CRT_PER_THREAD = frozenset({"localtime", "gmtime", "ctime", "asctime", "strerror", "strtok"})


def _rows(why: str, pairs: dict[str, str]) -> dict[str, UnsafeLibcFunction]:
    return {name: UnsafeLibcFunction(name, why, replacement) for name, replacement in pairs.items()}


STATIC_RESULT = "returns a pointer to a static buffer that the next call, from any thread, overwrites"
HIDDEN_STATE = "keeps hidden state between calls that every thread shares"
PROCESS_STATE = "reads or changes process-wide state that other threads use at the same time"

UNSAFE_LIBC: dict[str, UnsafeLibcFunction] = {
    **_rows(STATIC_RESULT, {
        "localtime": "localtime_r (POSIX) or localtime_s (C11 Annex K / MSVC)",
        "gmtime": "gmtime_r (POSIX) or gmtime_s (C11 Annex K / MSVC)",
        "ctime": "ctime_r (POSIX) or strftime on a localtime_r result",
        "asctime": "asctime_r (POSIX) or strftime",
        "strerror": "strerror_r (POSIX) or strerror_s (C11 Annex K / MSVC)",
        "strsignal": "sigdescr_np (glibc) or a table of your own",
        "inet_ntoa": "inet_ntop",
        "getpwnam": "getpwnam_r", "getpwuid": "getpwuid_r", "getpwent": "getpwent_r (GNU) under a lock",
        "getgrnam": "getgrnam_r", "getgrgid": "getgrgid_r", "getgrent": "getgrent_r (GNU) under a lock",
        "getspnam": "getspnam_r",
        "gethostbyname": "getaddrinfo", "gethostbyname2": "getaddrinfo", "gethostbyaddr": "getnameinfo",
        "getservbyname": "getaddrinfo", "getservbyport": "getnameinfo", "getprotobyname": "getprotobyname_r",
        "getprotobynumber": "getprotobynumber_r", "getnetbyname": "getnetbyname_r",
        "tmpnam": "mkstemp (or tmpnam_r with a caller buffer)", "tempnam": "mkstemp",
        "ttyname": "ttyname_r", "getlogin": "getlogin_r", "ptsname": "ptsname_r", "ctermid": "ctermid(buf)",
        "ecvt": "snprintf", "fcvt": "snprintf", "gcvt": "snprintf", "l64a": "",
        "dirname": "a copy of the path and your own parsing", "basename": "a copy of the path",
        "dlerror": "dlerror under a lock (its message is per process on some platforms)",
        "nl_langinfo": "nl_langinfo_l", "localeconv": "localeconv under a lock, copying the result",
        "getdate": "getdate_r (GNU) or strptime", "crypt": "crypt_r",
        "readdir": "readdir on a DIR* used by one thread only (readdir_r is deprecated)",
        "getenv": "reading the value once at module init, or secure_getenv under a lock",
        "getutent": "getutent_r", "getutid": "getutid_r", "getutline": "getutline_r",
        "ether_ntoa": "ether_ntoa_r", "ether_aton": "ether_aton_r",
    }),
    **_rows(HIDDEN_STATE, {
        "strtok": "strtok_r (POSIX) or strtok_s (C11 Annex K / MSVC)",
        "rand": "rand_r, a per-thread PRNG state, or PyOS_URandom",
        "random": "random_r (GNU) or a per-thread PRNG state",
        "srand": "a per-thread PRNG state", "srandom": "a per-thread PRNG state",
        "drand48": "erand48 with a caller-owned state", "lrand48": "nrand48 with a caller-owned state",
        "mrand48": "jrand48 with a caller-owned state", "srand48": "a caller-owned erand48 state",
        "lcong48": "a caller-owned erand48 state", "seed48": "a caller-owned erand48 state",
        "mblen": "mbrlen", "mbtowc": "mbrtowc", "wctomb": "wcrtomb", "wcstombs": "wcsrtombs",
        "mbstowcs": "mbsrtowcs", "lgamma": "lgamma_r", "lgammaf": "lgammaf_r", "lgammal": "lgammal_r",
        "getopt": "argument parsing at module init only", "hcreate": "hcreate_r", "hsearch": "hsearch_r",
        "hdestroy": "hdestroy_r", "setkey": "", "encrypt": "",
    }),
    **_rows(PROCESS_STATE, {
        "setenv": "passing values explicitly (os.environ changes from Python are not visible to C anyway)",
        "putenv": "passing values explicitly", "unsetenv": "passing values explicitly",
        "clearenv": "passing values explicitly",
        "setlocale": "uselocale/newlocale (per-thread locale)",
        "system": "posix_spawn, or subprocess from Python",
    }),
}
