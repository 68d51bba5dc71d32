// The program: read and validate config once, then build the components for the target.
import { loadConfig } from "./components/config";

const config = loadConfig();

export const activeColor = config.activeColor;
export const target = config.target;
