// The entry of the action UI's own script (widget/build.ts builds it as a second
// content-hashed file). It defines nothing global: it hands its mount function to the
// <script> element that loaded it, which the main bundle's loader (actions-loader.ts) reads
// on `load`.
import { mountAction } from "./actions.ts";
import type { ActionScript } from "./actions-loader.ts";

const script = document.currentScript as ActionScript | null;
if (script) script.bitbActions = mountAction;
