// unix-dgram 2.0.7 ships no types; src/unix-dgram.ts describes the part LogStream uses and casts.
declare module 'unix-dgram';
