import { defineConfig, type Plugin } from "vite";

/**
 * The example's dev server: `npx vite examples/react-spa` (or `--config` this file) from the
 * repository's root. It listens on loopback; browsers resolve every `*.localhost` name there, so the
 * app opens as app.example.localhost, the same site as Gatehouse at auth.example.localhost.
 */
export default defineConfig({
  root: import.meta.dirname,
  server: {
    host: "127.0.0.1",
    port: 5173,
    // Another port would be another origin, which Gatehouse does not allow: fail instead.
    strictPort: true,
    allowedHosts: [".localhost"],
  },
  plugins: [siteAddress()],
});

declare global {
  interface ImportMeta {
    /**
     * This file's folder: Vite bundles a config file before running it and writes this in (Node's
     * own type for it is in @types/node, which this project does not have).
     */
    readonly dirname: string;
  }
}

/**
 * Adds the address to open below Vite's own: 127.0.0.1 would show the page, but Gatehouse's cookies
 * and CORS need app.example.localhost (the origin its `CORS_ORIGINS` names).
 */
function siteAddress(): Plugin {
  return {
    name: "gatehouse-example-site-address",
    configureServer(server) {
      const printUrls = server.printUrls.bind(server);
      server.printUrls = () => {
        printUrls();
        server.config.logger.info(`  ➜  Open:    http://app.example.localhost:${server.config.server.port}/ (not 127.0.0.1: cookies)`);
      };
    },
  };
}
