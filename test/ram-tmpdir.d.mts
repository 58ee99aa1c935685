// Types for ram-tmpdir.mjs.

/** Points TMPDIR at /dev/shm for this process and its children, unless TMPDIR is set or /dev/shm is not writable. */
export function preferRamTmpdir(): void;
