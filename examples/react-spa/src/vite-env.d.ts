interface ImportMetaEnv {
  /** Gatehouse's URL; unset: http://auth.example.localhost:8787 (`npm run dev -- --site http://app.example.localhost:5173`). */
  readonly VITE_GATEHOUSE_URL?: string;
}
