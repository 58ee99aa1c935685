// Types for soak-invariants.mjs, for the TypeScript tests (the project's tsconfig does not check .mjs).

export interface Verdict<D = unknown> {
  ok: boolean;
  detail: D;
}

export interface FiveHundred {
  status: number;
  retryAfter: string | null;
  contentType: string;
  code: string | null;
  path: string;
}

export type ChangeKind = "password_change" | "password_reset" | "deactivation";

export interface CredentialProbe {
  oldPassword: number;
  newPassword: number | null;
  witness: number;
  apiKey: number;
}

export interface CredentialChange {
  account: string;
  kind: ChangeKind;
  answered: number;
  probe: CredentialProbe;
}

export interface IpBurst {
  limit: number;
  answers: { status: number; limiterFailed: boolean }[];
}

export interface LockoutProbe {
  softAfter: number;
  burst: number[];
  after: number[];
  rightPasswordWhileLocked: number;
}

export function isDeclared5xx(answer: FiveHundred): boolean;
export function noUndeclared5xx(fiveHundreds: FiveHundred[]): Verdict;
export function credentialState(probe: CredentialProbe, kind: ChangeKind): "before" | "after" | "partial";
export function noPartialCredentialChange(changes: CredentialChange[]): Verdict;
export function eventsDelivered(committed: string[], received: Map<string, number>, badSignatures: number): Verdict;
export function oneLiveTokenPerFamily(
  successors: Map<string, Set<string>>,
  storage: { liveAndRetired: number; oauthFamiliesOverOne: number },
): Verdict;
export function ipBurstExact(burst: IpBurst): boolean;
export function lockoutExact(probe: LockoutProbe): boolean;
export function limitsExact(probes: { ip: IpBurst[]; lockout: LockoutProbe[] }): Verdict;
export function p99(values: number[]): number;
export function flat(first: number, last: number, bound: { factor: number; slack: number }): boolean;
