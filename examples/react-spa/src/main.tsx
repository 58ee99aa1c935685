import { GatehouseProvider } from "gatehouse/react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";

/** `npm run dev -- --site http://app.example.localhost:5173` serves Gatehouse here. */
const GATEHOUSE_URL = import.meta.env.VITE_GATEHOUSE_URL || "http://auth.example.localhost:8787";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <GatehouseProvider url={GATEHOUSE_URL}>
      <App />
    </GatehouseProvider>
  </StrictMode>,
);
