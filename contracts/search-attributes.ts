import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Typed keys of the search attributes in contracts/settings.ts (registered on the dev server). */
export const BackfillStateKey = defineSearchAttributeKey('BackfillState', SearchAttributeType.KEYWORD);
export const BackfillTargetKey = defineSearchAttributeKey('BackfillTarget', SearchAttributeType.KEYWORD);
export const BackfillOwnerKey = defineSearchAttributeKey('BackfillOwner', SearchAttributeType.KEYWORD);
