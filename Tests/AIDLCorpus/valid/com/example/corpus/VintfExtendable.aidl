package com.example.corpus;

import com.example.corpus.Level;

/** What AOSP encodes per release: a holder with VINTF stability, and byte-sized fixed arrays. */
@VintfStability
parcelable VintfExtendable {
    int a;
    ParcelableHolder extension;
    byte[3] bytes;
    Level[2] levels;
    @nullable byte[2] maybeBytes;
    int[2][3] grid;
}
