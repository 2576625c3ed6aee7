/*
 * Included before every source by build.sh. glibc 2.34 moved pthread_create into libc under a new
 * symbol version; binding it to the x86-64 original keeps the addon loading on the older glibcs
 * that Node's own linux-x64 builds still support (2.28). The oldest version left is then memcpy's
 * 2.14 and aligned_alloc's 2.16, so the floor is glibc 2.17.
 */
__asm__(".symver pthread_create,pthread_create@GLIBC_2.2.5");
