/** Environment names that mean production: chaos there needs safety.allowProduction as well as allowedEnvironments. */
export const PRODUCTION_LIKE = /(^|[-_.])(prod|production|prd|live)([-_.]|$)/i;
