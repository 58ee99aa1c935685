// `npx node examples/node-api/server.mjs`: a Node API that accepts Gatehouse access tokens (see
// README.md here). Configuration from the environment; the defaults fit `npm run dev -- --site
// http://app.example.localhost:5173`, which serves Gatehouse at http://auth.example.localhost:8787.
import { createVerifier } from "gatehouse/server";
import { startApi } from "./api.mjs";
import { localhostFetch } from "./localhost-fetch.mjs";

const issuer = process.env.GATEHOUSE_ISSUER ?? "http://auth.example.localhost:8787";
const audience = process.env.GATEHOUSE_AUDIENCE ?? "gatehouse";
const port = Number(process.env.PORT ?? 8791);
const corsOrigin = process.env.CORS_ORIGIN ?? "http://app.example.localhost:5173";

// Offline verification with Gatehouse's published keys, fetched once and cached (5 minutes, or
// sooner when a token names a new key). localhostFetch lets Node reach *.localhost names.
const verify = createVerifier({ issuer, audience, fetch: localhostFetch });
const api = await startApi({ verify, port, corsOrigin });
console.log(`node-api on ${api.url}: GET /me with Authorization: Bearer <a token of ${issuer}> (audience ${audience})`);
