import bcryptjs from "bcryptjs";
import { describe, expect, it } from "vitest";
import { verifyBcrypt } from "../src/accounts/bcrypt";
import { verifyPassword } from "../src/accounts/passwords";

/**
 * bcrypt in WebAssembly (src/accounts/bcrypt.ts over src/accounts/bcrypt.wasm, built from
 * wasm/bcrypt): published vectors, hashes made by bcryptjs (the JavaScript implementation it replaced)
 * at every cost an import accepts, and hashes that must be refused without an exception.
 */

/** Bytes as the C sources write them ("\xff\xa3"): one byte per character, not UTF-8. */
const raw = (text: string) => Uint8Array.from(text, (char) => char.charCodeAt(0));
const hex = (text: string) => Uint8Array.from(text.match(/../g) ?? [], (pair) => parseInt(pair, 16));

/** [password, hash]: every one of them also checked here against Debian's python3-bcrypt (C). */
const PUBLISHED: [string | Uint8Array, string][] = [
  // pyca/bcrypt tests/test_bcrypt.py
  ["Kk4DQuMMfZL9o", "$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm"],
  ["9IeRXmnGxMYbs", "$2b$04$pQ7gRO7e6wx/936oXhNjrOUNOHL1D0h1N2IDbJZYs.1ppzSof6SPy"],
  ["xVQVbwa1S0M8r", "$2b$04$SQe9knOzepOVKoYXo9xTteNYr6MBwVz4tpriJVe3PNgYufGIsgKcW"],
  ["Zfgr26LWd22Za", "$2b$04$eH8zX.q5Q.j2hO1NkVYJQOM6KxntS/ow3.YzVmFrE4t//CoF4fvne"],
  ["Tg4daC27epFBE", "$2b$04$ahiTdwRXpUG2JLRcIznxc.s1.ydaPGD372bsGs8NqyYjLY1inG5n2"],
  // pyca's random 64-byte keys, NUL bytes included (bcrypt uses every byte it is given).
  [
    hex("7d3eb3fef18ba0e628a24c7a71c3507fccc8627bf914f6f660814735ec1d8710bfa7e17d49372096df63f2bfb35668df4d8871f7ff1b827e7a13dde98400dd34"),
    "$2b$10$keO.ZZs22YtygVF6BLfhGOI/JjshJYPp8DZsUtym6mJV2Eha2Hdd.",
  ],
  [
    hex("67370d01f3d4d0a94a425e18003750b24ec71cee872683438be818c53e86142fd6cc1c4aded76978ebde4fefe169accb039676312720d6402e6da521a0efc028"),
    "$2a$04$tecY.9ylRInW/rAAzXCXPOOlyYeCNzmNTzPDNSIFztFMKbvs/s5XG",
  ],
  // Openwall crypt_blowfish wrapper.c (the $2a$, $2b$ and $2y$ ones: $2x$ is its buggy mode, unsupported)
  ["U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"],
  ["U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"],
  ["U*U*U", "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a"],
  ["", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy"],
  [
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are ignored",
    "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
  ],
  [raw("\xa3"), "$2a$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq"],
  [raw("\xa3"), "$2b$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq"],
  [raw("\xa3"), "$2y$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq"],
  [raw("\xff\xff\xa3"), "$2b$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e"],
  [raw("\xff\xff\xa3"), "$2y$05$/OK.fbVrR/bpIqNJ5ianF.CE5elHaaO4EbggVDjb8P19RukzXSM3e"],
  [raw("\xff\xa3345"), "$2a$05$/OK.fbVrR/bpIqNJ5ianF.nRht2l/HRhr6zmCp9vYUvvsqynflf9e"],
  [raw("\xff\xa3345"), "$2y$05$/OK.fbVrR/bpIqNJ5ianF.nRht2l/HRhr6zmCp9vYUvvsqynflf9e"],
  [raw("\xff\xa334\xff\xff\xff\xa3345"), "$2y$05$/OK.fbVrR/bpIqNJ5ianF.o./n25XVfn6oAPaUvHe.Csk4zRfsYPi"],
  [raw("\xa3ab"), "$2a$05$/OK.fbVrR/bpIqNJ5ianF.6IflQkJytoRVc1yuaNtHfiuq.FRlSIS"],
  [raw("\xa3ab"), "$2y$05$/OK.fbVrR/bpIqNJ5ianF.6IflQkJytoRVc1yuaNtHfiuq.FRlSIS"],
  [raw("\xaa".repeat(72) + "chars after 72 are ignored as usual"), "$2a$05$/OK.fbVrR/bpIqNJ5ianF.swQOIzjOiJ9GHEPuhEkvqrUyvWhEMx6"],
  [raw("\xaa\x55".repeat(36)), "$2a$05$/OK.fbVrR/bpIqNJ5ianF.R9xrDjiycxMbQE2bp.vgqlYpW5wx2yy"],
  [raw("\x55\xaa\xff".repeat(24)), "$2a$05$/OK.fbVrR/bpIqNJ5ianF.9tQZzcJfm3uj2NvJ/n5xkhpqLrMpWCe"],
];

/** Made with Debian's python3-bcrypt 3.2.2 (C): `bcrypt.hashpw(password.encode(), b"$2b$06$GatehouseBcryptVectore")`. */
const UTF8: [string, string][] = [
  ["ё", "$2b$06$GatehouseBcryptVectoreZPwdD2hh9iPQGD1Wrb1UFJOfMo3./oK"],
  ["Пароль123", "$2b$06$GatehouseBcryptVectoreFcavKAsHMICn7J4DFIlNPSMo1AfqDsu"],
  ["パスワード", "$2b$06$GatehouseBcryptVectore8Iz54tWRGc/.EKozSmSHMQ2hwtwa7hm"],
  ["🔑🔒 key", "$2b$06$GatehouseBcryptVectoreQOx9.pdk6p.1Tx4S8cUC84U4rxHdkLS"],
  ["Ünïcödé ✓", "$2b$06$GatehouseBcryptVectoreL83FWHWe2mbRmCWLaHXRAu7NjOE1.7q"],
  // 72 bytes of UTF-8 exactly (no room for the NUL), then 73 (the 72nd byte ends mid-character), then 84.
  ["€".repeat(24), "$2b$06$GatehouseBcryptVectore/w936OfndgtN9CKP2qh.0bN1NUlmxHC"],
  ["a" + "€".repeat(24), "$2b$06$GatehouseBcryptVectorevkibJDaefxt/h4fP9SBK/LqEvwg.zFm"],
  ["€".repeat(24) + "tail ignored", "$2b$06$GatehouseBcryptVectore/w936OfndgtN9CKP2qh.0bN1NUlmxHC"],
];

/** A different password: its first character (or byte) changed, since bytes past 72 never count. */
function wrong(password: string | Uint8Array): string | Uint8Array {
  if (typeof password === "string") {
    const [first = "", ...rest] = Array.from(password);
    return (first === "x" ? "y" : "x") + rest.join("");
  }
  if (password.length === 0) return new Uint8Array([1]);
  const changed = password.slice();
  changed[0] = (changed[0] ?? 0) ^ 1;
  return changed;
}

/** A password of random printable, non-ASCII and astral characters. */
function randomPassword(length: number): string {
  const ranges = [
    [0x20, 0x7e],
    [0xa0, 0x7ff],
    [0x800, 0xd7ff],
    [0x1f300, 0x1faff],
  ] as const;
  let password = "";
  for (let i = 0; i < length; i++) {
    const [low, high] = ranges[Math.floor(Math.random() * ranges.length)] ?? ranges[0];
    password += String.fromCodePoint(low + Math.floor(Math.random() * (high - low + 1)));
  }
  return password;
}

describe("bcrypt in WebAssembly", () => {
  it("verifies the published vectors (pyca/bcrypt, Openwall crypt_blowfish) and refuses a changed password", () => {
    for (const [password, hash] of PUBLISHED) {
      expect(verifyBcrypt(password, hash), hash).toBe(true);
      expect(verifyBcrypt(wrong(password), hash), hash).toBe(false);
    }
  });

  it("takes a password as its UTF-8 bytes, cut at 72 bytes (even mid-character), as C bcrypt does", () => {
    for (const [password, hash] of UTF8) {
      expect(verifyBcrypt(password, hash), password).toBe(true);
      expect(verifyBcrypt(new TextEncoder().encode(password), hash), password).toBe(true);
      expect(verifyBcrypt(wrong(password), hash), password).toBe(false);
    }
    // Only the first 72 bytes count: what follows them never changes the result.
    const long = "x".repeat(72);
    const hash = bcryptjs.hashSync(long, 4);
    expect(verifyBcrypt(long + "anything", hash)).toBe(true);
    expect(verifyBcrypt(long.slice(0, 71), hash)).toBe(false);
  });

  it("agrees with bcryptjs at every cost an import accepts (4 to 13)", () => {
    const password = "correct horse battery staple ✓";
    for (let cost = 4; cost <= 11; cost++) {
      const hash = bcryptjs.hashSync(password, cost);
      expect(verifyBcrypt(password, hash), hash).toBe(true);
      expect(verifyBcrypt(password + "!", hash), hash).toBe(false);
    }
    // Costs 12 and 13 made once with bcryptjs.hashSync (about 1 s of the suite's time saved), checked
    // once each: a refusal costs the same as an acceptance and proves nothing more at a higher cost.
    expect(verifyBcrypt(password, "$2b$12$ibJTQEbj3dRmEpdGZtBfF.gswdW/u6wMAUHyBxx3bnCwvtnIr5xDC")).toBe(true);
    expect(verifyBcrypt(password, "$2b$13$VSTEYUya81W5/atLrloeyenhPWgrAi0cbxJijFe8Bf1dLWNgNLw.m")).toBe(true);
  });

  it("reads $2a$, $2b$ and $2y$ as the same algorithm", () => {
    const hash = bcryptjs.hashSync("same algorithm", 4);
    for (const prefix of ["$2a$", "$2b$", "$2y$"]) expect(verifyBcrypt("same algorithm", prefix + hash.slice(4))).toBe(true);
  });

  it("agrees with bcryptjs on random passwords of 0 to 90 characters (one to four UTF-8 bytes each)", () => {
    for (let i = 0; i < 40; i++) {
      const password = randomPassword(Math.floor(Math.random() * 91));
      const hash = bcryptjs.hashSync(password, 4);
      expect(verifyBcrypt(password, hash), JSON.stringify([password, hash])).toBe(true);
      expect(verifyBcrypt(wrong(password), hash), JSON.stringify([password, hash])).toBe(false);
    }
  });

  it("leaves nothing of one check in the next (the module's memory is shared by the isolate)", () => {
    const [short, hash] = PUBLISHED.find(([password]) => password === "U*U") ?? ["", ""];
    expect(verifyBcrypt("a much longer password typed first, seventy-two bytes and more", hash)).toBe(false);
    expect(verifyBcrypt(short, hash)).toBe(true);
  });

  it("refuses malformed hashes without throwing", () => {
    const good = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"; // "U*U"
    const malformed = [
      "",
      "$2a$",
      good.slice(0, -1),
      good + "e",
      good + "\n",
      " " + good,
      good.replace("$2a$", "$2x$"), // crypt_blowfish's buggy mode
      good.replace("$2a$", "$2c$"),
      good.replace("$2a$", "$2$"),
      good.replace("$2a$", "$2A$"),
      good.replace("$05$", "$03$"),
      good.replace("$05$", "$32$"),
      good.replace("$05$", "$99$"),
      good.replace("$05$", "$5$"),
      good.replace("$05$", "$0a$"),
      good.replace("CCCC", "CC?C"),
      good.replace("CCCC", "CC=C"),
      good.replace("E5YP", "E5-P"),
      good.replace("C.E5", "C/E5"), // the salt's last character with stray low bits: refused, as OpenBSD does
      "$pbkdf2-sha256$v=1$i=1,p=0$AAAA$AAAA",
      "*0",
    ];
    for (const hash of malformed) expect(verifyBcrypt("U*U", hash), hash).toBe(false);
    expect(verifyBcrypt("U*U", good)).toBe(true);
  });

  it("is what verifyPassword uses for imported bcrypt hashes, always asking for a rehash", async () => {
    const hash = bcryptjs.hashSync("imported", 4);
    const params = { iterations: 10_000, pepper: undefined };
    expect(await verifyPassword("imported", hash, params)).toEqual({ valid: true, needsRehash: true });
    expect(await verifyPassword("imported?", hash, params)).toEqual({ valid: false, needsRehash: true });
  });
});
