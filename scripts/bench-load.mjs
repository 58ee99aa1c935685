// The load harness the throughput comparisons share (`npm run bench -- --geo --local-only` and
// `npm run bench:better-auth`), so their numbers come from one measuring method.

/**
 * Requests per second of `send` (a request whose body the caller has read): 100 warm-up requests,
 * then 1,500 at concurrency 8. Anything but 200 stops the run.
 */
async function throughput(label, send) {
  const total = 1500;
  const concurrency = 8;
  for (let i = 0; i < 100; i++) await send();
  let sent = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (sent < total) {
        sent += 1;
        const res = await send();
        if (res.status !== 200) throw new Error(`${label}: ${res.status}`);
      }
    }),
  );
  return (total / (performance.now() - start)) * 1000;
}

/**
 * The best of three interleaved rounds per request, so background load on a shared machine hits
 * every request alike. `requests` is `[name, send][]`; `report` hears each round's best so far.
 */
export async function bestOfThreeRounds(requests, report = () => undefined) {
  const rates = {};
  for (let round = 0; round < 3; round++) {
    for (const [name, send] of requests) rates[name] = Math.max(rates[name] ?? 0, await throughput(name, send));
    report(round + 1, rates);
  }
  return rates;
}
