// Config paths made absolute against the project: they reach nginx config and scripts.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT_DIR } from "./templates";

/** Paths that reach nginx config or scripts must stay within this alphabet (no space, quote, ;). */
const SAFE_PATH = /^[A-Za-z0-9._/-]+$/;

/** A config path made absolute, checked again: the project's own location becomes part of it. */
export function resolvedPath(configKey: string, value: string): string {
    const absolute = path.resolve(PROJECT_DIR, value);
    if (!SAFE_PATH.test(absolute)) {
        throw new pulumi.RunError(
            `bluegreen:${configKey} resolves to ${JSON.stringify(absolute)}, which contains characters that cannot ` +
                "go into nginx config or a script (only letters, digits, . _ / -). Fix: move the project to such " +
                `a path, or set ${configKey} to an absolute path like /var/lib/bluegreen`,
        );
    }
    return absolute;
}
