/* Version and build identity, recorded with every run. */
#ifndef ZB_VERSION_H
#define ZB_VERSION_H

#define ZB_VERSION "0.1.0"
#ifndef ZB_GIT_COMMIT
#define ZB_GIT_COMMIT "unknown" /* the Makefile passes the commit */
#endif

#endif
