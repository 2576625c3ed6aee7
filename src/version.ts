/** This library's version, as published. */
export const VERSION = '0.2.0';
