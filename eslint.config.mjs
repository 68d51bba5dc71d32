// TypeScript lint: eslint's and typescript-eslint's recommended rules, without type information
// (fast; types are tsc's job). Layout is prettier's, shell is shellcheck's (scripts/lint.sh).
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
    { ignores: ["bin/", "node_modules/", ".state/", "**/*.js", "**/*.mjs"] },
    {
        files: ["**/*.ts"],
        extends: [js.configs.recommended, tseslint.configs.recommended],
        rules: {
            // prettier wraps code at 120 columns but never a comment, string or regex: this catches those.
            "max-len": ["error", { code: 120, tabWidth: 4 }],
            // A leading underscore marks a name left unused on purpose (keys dropped by destructuring).
            "@typescript-eslint/no-unused-vars": [
                "error",
                { argsIgnorePattern: "^_", varsIgnorePattern: "^_", ignoreRestSiblings: true },
            ],
        },
    },
);
