/**
 * Password guessing is slowed down per account and per client address: after `limit` failed
 * sign-ins within `windowSeconds` the key is locked for `lockSeconds`, and while it is locked no
 * password is even checked (a correct one too), so the lock cannot be used to test guesses.
 * A successful sign-in clears the account's failures. One attempt per key at a time (`begin` /
 * `end`): the password check is asynchronous (scrypt), and without this, many attempts sent at
 * once would all pass the lock check before the first failure was counted.
 *
 * The lock is temporary on purpose: a permanent one would let anyone lock a member of staff out
 * of the clinical record by typing their username wrongly a few times. Kept in memory (one
 * process, like the sessions): a restart forgets it.
 */
export interface ThrottleRule {
  limit: number;
  windowSeconds: number;
  lockSeconds: number;
}

interface Failures {
  /** Times (ms) of the failures still inside the window. */
  at: number[];
  lockedUntil?: number;
}

/** Bounded memory: beyond this many keys the oldest are forgotten (an attacker spraying usernames cannot exhaust memory). */
const MAX_KEYS = 100_000;

export class SignInThrottle {
  private readonly keys = new Map<string, Failures>();
  private readonly inFlight = new Set<string>();

  /** Starts an attempt for `key`; false when one is already being checked (refuse this one). */
  begin(key: string): boolean {
    if (this.inFlight.has(key)) return false;
    this.inFlight.add(key);
    return true;
  }

  /** Ends the attempt `begin` started (after its failure or success was recorded). */
  end(key: string): void {
    this.inFlight.delete(key);
  }

  constructor(private readonly rule: ThrottleRule, private readonly now: () => number = Date.now) {}

  /** Seconds until `key` may try again, or 0 when it is not locked. */
  retryAfter(key: string): number {
    const f = this.keys.get(key);
    if (!f?.lockedUntil) return 0;
    const left = f.lockedUntil - this.now();
    if (left > 0) return Math.ceil(left / 1000);
    this.keys.delete(key);
    return 0;
  }

  /** Records a failed sign-in; returns the seconds of the lock it starts, or 0. */
  failed(key: string): number {
    const now = this.now();
    const f = this.keys.get(key) ?? { at: [] };
    this.keys.delete(key); // re-inserted last: the Map's order is the age order for eviction
    f.at = f.at.filter((t) => now - t < this.rule.windowSeconds * 1000);
    f.at.push(now);
    if (f.at.length >= this.rule.limit) {
      f.lockedUntil = now + this.rule.lockSeconds * 1000;
      f.at = [];
    }
    this.keys.set(key, f);
    if (this.keys.size > MAX_KEYS) this.evictOldestUnlocked(now);
    return f.lockedUntil && f.lockedUntil > now ? this.rule.lockSeconds : 0;
  }

  succeeded(key: string): void {
    this.keys.delete(key);
  }

  /** Forgets the least recently failed key that is not locked: failures elsewhere never lift a lock. */
  private evictOldestUnlocked(now: number): void {
    for (const [key, f] of this.keys) {
      if (!f.lockedUntil || f.lockedUntil <= now) {
        this.keys.delete(key);
        return;
      }
    }
  }
}

/** 5 failures in 15 minutes lock an account for 15 minutes. */
export const ACCOUNT_RULE: ThrottleRule = { limit: 5, windowSeconds: 900, lockSeconds: 900 };
/** One address may fail more often (a shared practice network), then is locked too. */
export const ADDRESS_RULE: ThrottleRule = { limit: 30, windowSeconds: 900, lockSeconds: 900 };
