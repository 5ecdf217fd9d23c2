/** Label on the short-lived containers the probes make (manifests, image files); none must outlive its call. */
export const TMP_LABEL = { key: 'driftless.tmp', value: 'manifest' } as const;
