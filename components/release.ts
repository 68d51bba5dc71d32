// What a pool runs: a version, an artifact directory and how it starts. The release id
// changes whenever any of them does, so a changed artifact redeploys even at the same version.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export interface Release {
    readonly version: string;
    /** `<version>-<12 hex of the artifact's content and start command>`. */
    readonly releaseId: string;
    /** Absolute path of the artifact directory. */
    readonly artifactDir: string;
    readonly startCommand: string;
}

/** Hashes every file under `dir` (paths and bytes, in a stable order). */
function hashDirectory(dir: string, hash: ReturnType<typeof createHash>): void {
    const walk = (relative: string) => {
        const entries = fs.readdirSync(path.join(dir, relative), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
        for (const entry of entries) {
            const child = path.join(relative, entry.name);
            if (entry.isDirectory()) {
                walk(child);
            } else if (entry.isFile()) {
                hash.update(`${child}\0`);
                hash.update(fs.readFileSync(path.join(dir, child)));
                hash.update("\0");
            }
        }
    };
    walk(".");
}

/**
 * Describes a release. `configKey` names the config key that chose the artifact, for the
 * error when the directory is missing. `knownId` is the id recorded for these same settings.
 */
export function describeRelease(version: string, artifactDir: string, startCommand: string, configKey: string, knownId?: string): Release {
    if (!fs.existsSync(artifactDir) || !fs.statSync(artifactDir).isDirectory()) {
        throw new Error(
            `${configKey}: the artifact directory ${artifactDir} does not exist. ` +
                `For the reference app (bin/app) run 'npm run build'; otherwise point ${configKey} at your app's directory.`,
        );
    }
    // The same version, artifact path and start command as the deployed release: the same
    // release, even if the directory was rebuilt since (ship new content with a new version).
    if (knownId) return { version, releaseId: knownId, artifactDir, startCommand };
    const hash = createHash("sha256");
    hash.update(`${startCommand}\0`);
    hashDirectory(artifactDir, hash);
    return { version, releaseId: `${version}-${hash.digest("hex").slice(0, 12)}`, artifactDir, startCommand };
}
