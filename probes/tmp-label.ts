/** Label on the short-lived containers the probes make (manifests, image files); none must outlive its call. */
export const TMP_LABEL = { key: 'driftless.tmp', value: 'manifest' } as const;

/**
 * The labels of a temporary container made from an image whose own labels are `imageLabels`.
 * The engine hands an image's labels down to every container made from it, so a fleet selected
 * by one of them (say `service=web`, set in the Dockerfile) would list our scratch container as
 * one of its hosts; each inherited label is therefore set to "" (a label cannot be removed, only
 * overridden), and ours marks it temporary (the Docker provider never lists such a container).
 */
export function tmpLabels(imageLabels: Record<string, string> | null | undefined, purpose: string = TMP_LABEL.value): Record<string, string> {
  return { ...Object.fromEntries(Object.keys(imageLabels ?? {}).map((k) => [k, ''])), [TMP_LABEL.key]: purpose };
}
