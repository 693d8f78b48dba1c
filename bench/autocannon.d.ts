/** autocannon ships no types and @types/autocannon is not installed: the little bench/load.ts uses. */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';
  function autocannon(options: Record<string, unknown>, done: (err: Error | null, result: any) => void): EventEmitter;
  export default autocannon;
}
