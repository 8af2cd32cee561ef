/** The part of `fs-native-extensions` (no types of its own) this store uses: OFD locks through `fcntl` on Linux. */
declare module 'fs-native-extensions' {
  /** An exclusive lock on the whole file open as `fd` (opened for writing), or `false` if another open file description holds one. */
  export function tryLock(fd: number, options?: { shared?: boolean }): boolean;
  export function unlock(fd: number): void;
}
