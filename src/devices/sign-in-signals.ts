import { breachCount } from "../abuse/breached-passwords";
import { recordAudit } from "../audit/audit";
import { sha256 } from "../crypto";
import type { User } from "../db/schema";
import { afterResponse, type Deps, type RequestPlace } from "../kernel/deps";
import { deviceHeldSince } from "./devices";
import { signInProfileKey } from "./erasure";
import { emitEvents } from "../events/events";
import { describeError, log } from "../log";
import { mailToken } from "../mail/mail";
import { sendSecurityNotice } from "../mail/notices";
import { newSignInMail, type SignInWarning } from "../mail/templates";
import { issueOneTimeToken, outstandingTokens, voidTokens } from "../kernel/one-time-tokens";

/**
 * Signals of a successful sign-in (any first factor: sign-in.ts), all worked out after the response (the answer and
 * its latency do not change):
 * - a new device (no known device token), or a country or network (ASN) the account has not signed
 *   in from before: the owner gets a "new sign-in" notice, at most one per device (IP or IPv6 /64,
 *   and user agent) per day, with a "this wasn't me" link (src/recovery/sign-in-revert.ts);
 * - impossible travel: faster than `IMPOSSIBLE_TRAVEL_KMH` (900) between this and the previous
 *   successful login, from Cloudflare's coordinates (`request.cf`);
 * - an unusual hour: none of the account's last logins fell within an hour of this one (once it has
 *   {@link HOUR_HISTORY_MIN} of them);
 * - with `BREACHED_PASSWORD_CHECK=always`, a breached password (still admitted).
 * Place, travel and hour flags go into a `login.flagged` audit row, a `security.alert` event and the notice.
 *
 *   KV  signin:<userId> → {@link SignInProfile}  (last coordinates, login hours, known places); 180 days
 */

/** Closer than this is GeoIP noise, whatever the speed. */
const MIN_TRAVEL_KM = 200;
const HOUR_HISTORY_MIN = 10;
/** Countries and networks remembered per account (the most recent first). */
const PLACES_KEPT = 20;
const PROFILE_TTL_SECONDS = 180 * 86_400;
const NOTICE_POLICY = { name: "signin_notice_device_day", limit: 1, window: 86_400 };
/** One breached-password notice per password (the stored hash) a month. */
const BREACH_NOTICE_POLICY = { name: "breached_password_notice", limit: 1, window: 30 * 86_400 };

interface SignInProfile {
  last: { latitude: number; longitude: number; at: number } | null;
  /** Logins per hour of day (the client's time zone when Cloudflare names it, else UTC). */
  hours: number[];
  /** Countries (`country:DE`) and networks (`asn:13335`) the account signed in from, newest first. */
  places?: string[];
}

export interface SuccessfulLogin {
  user: User;
  /** No known device token came with the login. */
  newDevice: boolean;
  /** The device token the sign-in presented, if any (known or not: see {@link voidRevertsOnProof}). */
  deviceToken?: string | undefined;
  /** Kept only in memory for the breach check after the response; never logged or stored. Absent after a second step. */
  password: string | undefined;
  /** A second step's sign-in: when the factor it proved was enrolled (see {@link voidRevertsOnProof}). */
  secondFactorSince?: Date | null;
}

/** Schedules the signals of a successful login after the response. Never throws. */
export function afterSuccessfulLogin(deps: Deps, login: SuccessfulLogin): void {
  afterResponse(deps, async () => {
    try {
      await evaluate(deps, login);
    } catch (error) {
      log("error", "sign_in_signals.failed", { request_id: deps.meta.requestId, ...describeError(error) });
    }
  });
}

async function evaluate(deps: Deps, { user, newDevice, deviceToken, password, secondFactorSince }: SuccessfulLogin): Promise<void> {
  if (deviceToken || secondFactorSince) await voidRevertsOnProof(deps, user.id, { deviceToken, secondFactorSince });
  const place = deps.meta.place ?? null;
  const now = deps.now();
  const warnings = await compareWithProfile(deps, user.id, place, now);
  const flags = warnings.map((w) => w.flag);
  if (flags.length) {
    await recordAudit(deps, {
      action: "login.flagged",
      userId: user.id,
      resource: `user:${user.id}`,
      metadata: warnings.reduce((all, w) => ({ ...all, ...w.metadata }), { flags, ...placeMetadata(place) }),
    });
    await emitEvents(deps, [{ type: "security.alert", data: { user_id: user.id, reason: "unusual_sign_in", flags } }]);
  }
  if (newDevice) {
    await recordAudit(deps, { action: "login.new_device", userId: user.id, resource: `user:${user.id}`, metadata: placeMetadata(place) });
  }
  // NEW_SIGN_IN_ACTION=log keeps the audit rows and events above and mails nothing.
  if ((newDevice || flags.includes("new_place")) && deps.config.attack.newSignInAction === "notify") {
    if (await spendOnce(deps, user.id, `signin_notice:${await deviceFingerprint(deps)}`, NOTICE_POLICY)) {
      // The revert token is issued only once its mail is admitted: a newer one voids the older links.
      await mailToken(deps, user.email, "security_notice", { class: "account" }, async () =>
        newSignInMail(deps, user, await issueOneTimeToken(deps, "signin_revert", { userId: user.id, email: user.email }), {
          time: now,
          ip: deps.meta.ip,
          place: describePlace(place),
          userAgent: deps.meta.userAgent,
          warnings: warnings.flatMap((w) => w.notice),
        }),
      );
    }
  }
  if (password !== undefined && deps.config.breachedPasswords.mode === "always" && ((await breachCount(deps, password)) ?? 0) > 0) {
    await recordAudit(deps, {
      action: "login.flagged",
      userId: user.id,
      resource: `user:${user.id}`,
      metadata: { flags: ["breached_password"] },
    });
    await emitEvents(deps, [{ type: "security.alert", data: { user_id: user.id, reason: "breached_password" } }]);
    const passwordTag = (await sha256(user.passwordHash)).slice(0, 16);
    if (await spendOnce(deps, user.id, `breached_notice:${passwordTag}`, BREACH_NOTICE_POLICY)) {
      await sendSecurityNotice(deps, user.id, "password_breached", user);
    }
  }
}

/** One unit of a per-user budget in the user's RateLimiter object; false when it is spent. */
async function spendOnce(deps: Deps, userId: string, action: string, policy: typeof NOTICE_POLICY): Promise<boolean> {
  const now = deps.now().getTime();
  const result = await deps.limiter(`user:${userId}`, (stub) => stub.hit(action, [policy], now));
  return result.ok;
}

/** What identifies "this device" without a device token: the client network (IPv6 /64) and user agent. */
async function deviceFingerprint(deps: Deps): Promise<string> {
  const ip = deps.meta.ip ?? "";
  const network = ip.includes(":") ? ip.split(":").slice(0, 4).join(":") : ip;
  return (await sha256(`${network}|${deps.meta.userAgent ?? ""}`)).slice(0, 16);
}

interface Warning {
  flag: "impossible_travel" | "unusual_hour" | "new_place";
  /** What the notice says about it. */
  notice: SignInWarning[];
  metadata: Record<string, unknown>;
}

/** Compares this login with the account's profile and records it there (best effort; KV). */
async function compareWithProfile(deps: Deps, userId: string, place: RequestPlace | null, now: Date): Promise<Warning[]> {
  const key = signInProfileKey(userId);
  const stored = await deps.kv.get<SignInProfile>(key, "json");
  const profile: SignInProfile =
    stored && Array.isArray(stored.hours) && stored.hours.length === 24 ? stored : { last: null, hours: Array<number>(24).fill(0) };
  const warnings: Warning[] = [];

  const here = place?.latitude != null && place.longitude != null ? { latitude: place.latitude, longitude: place.longitude } : null;
  if (here && profile.last) {
    const km = distanceKm(profile.last, here);
    const hours = Math.max((now.getTime() - profile.last.at) / 3_600_000, 1 / 3600);
    const kmh = Math.round(km / hours);
    if (km >= MIN_TRAVEL_KM && kmh > deps.config.attack.impossibleTravelKmh) {
      warnings.push({
        flag: "impossible_travel",
        notice: [{ kind: "travel", km: Math.round(km) }],
        metadata: { distance_km: Math.round(km), speed_kmh: kmh },
      });
    }
  }

  const hour = localHour(now, place?.timezone ?? null);
  const seen = profile.hours.reduce((a, b) => a + b, 0);
  const near = [23, 0, 1].reduce((sum, d) => sum + (profile.hours[(hour + d) % 24] ?? 0), 0);
  if (seen >= HOUR_HISTORY_MIN && near === 0) {
    warnings.push({
      flag: "unusual_hour",
      notice: [{ kind: "hour", hour }],
      metadata: { hour },
    });
  }

  const known = Array.isArray(profile.places) ? profile.places : [];
  const current = [place?.country ? `country:${place.country}` : null, place?.asn != null ? `asn:${place.asn}` : null].filter(
    (p): p is string => p !== null,
  );
  // Only against a history: an account's first places are its normal ones.
  const unseen = known.length ? current.filter((p) => !known.includes(p)) : [];
  if (unseen.length) {
    warnings.push({
      flag: "new_place",
      notice: unseen.map((p): SignInWarning =>
        p.startsWith("country:") ? { kind: "country", country: p.slice(8) } : { kind: "network", asn: Number(p.slice(4)) },
      ),
      metadata: { new_places: unseen },
    });
  }

  // Older hours fade, so a changed routine stops looking unusual.
  const hours = profile.hours.map((n) => (seen >= 200 ? Math.floor(n / 2) : n));
  hours[hour] = (hours[hour] ?? 0) + 1;
  const places = [...current, ...known.filter((p) => !current.includes(p))].slice(0, PLACES_KEPT);
  const next: SignInProfile = { last: here ? { ...here, at: now.getTime() } : profile.last, hours, places };
  await deps.kv.put(key, JSON.stringify(next), { expirationTtl: PROFILE_TTL_SECONDS });
  return warnings;
}

/** Great-circle distance (haversine). */
function distanceKm(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const rad = (d: number) => (d * Math.PI) / 180;
  const dLat = rad(b.latitude - a.latitude);
  const dLon = rad(b.longitude - a.longitude);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.latitude)) * Math.cos(rad(b.latitude)) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)));
}

function localHour(now: Date, timezone: string | null): number {
  if (timezone) {
    try {
      const text = new Intl.DateTimeFormat("en-GB", { hour: "numeric", hourCycle: "h23", timeZone: timezone }).format(now);
      const hour = Number.parseInt(text, 10);
      if (hour >= 0 && hour < 24) return hour;
    } catch {
      // An unknown zone name: fall back to UTC.
    }
  }
  return now.getUTCHours();
}

function describePlace(place: RequestPlace | null): string | null {
  const parts = [place?.city, place?.country].filter((p): p is string => Boolean(p));
  return parts.length ? parts.join(", ") : null;
}

function placeMetadata(place: RequestPlace | null): Record<string, unknown> {
  return { country: place?.country ?? null, city: place?.city ?? null };
}

/** How long before an address change a device must have been known for its sign-in to prove the owner. */
const PROOF_DEVICE_AGE_MS = 7 * 86_400_000;

/**
 * The email-change revert links a sign-in proves unneeded. A revert link is the owner's way back
 * from a phisher who moved the account; it dies only on proof the phisher cannot have: a sign-in
 * from a device known at least 7 days before the change, or with a second factor enrolled before it
 * (a password change, a reset from the new address or a logout-all can all be the phisher's, so
 * none of them voids it). The change itself
 * ended that device's budget (its credentials epoch), so the token is checked for what it proves,
 * not for the budget: genuine, this user's, its row not revoked.
 */
async function voidRevertsOnProof(
  deps: Deps,
  userId: string,
  proof: { deviceToken: string | undefined; secondFactorSince: Date | null | undefined },
): Promise<void> {
  const links = await outstandingTokens(deps, "email_revert", userId);
  if (links.length === 0) return;
  const knownSince = proof.deviceToken ? await deviceHeldSince(deps, userId, proof.deviceToken) : null;
  const byDevice = (issuedAt: number) => knownSince !== null && knownSince.getTime() <= issuedAt - PROOF_DEVICE_AGE_MS;
  const byFactor = (issuedAt: number) => proof.secondFactorSince != null && proof.secondFactorSince.getTime() < issuedAt;
  const proven = links.filter((link) => byDevice(link.payload.issuedAt) || byFactor(link.payload.issuedAt));
  if (proven.length === 0) return;
  await voidTokens(deps, "email_revert", proven);
  await recordAudit(deps, {
    action: "email.revert_links_voided",
    userId,
    resource: `user:${userId}`,
    metadata: { links: proven.length, proof: proof.secondFactorSince ? "second_factor" : "device_known_7_days" },
  });
}
