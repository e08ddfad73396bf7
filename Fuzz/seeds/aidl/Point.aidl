package com.example.corpus;

import com.example.corpus.Color;

@JavaDerive(toString=true, equals=true)
parcelable Point {
    const int ORIGIN = 0;
    int x = ORIGIN;
    int y = -ORIGIN;
    @nullable String label;
    Color color = Color.GREEN;
    int[] history;
    double[2] coordinates = {1.5, 2.5};
    ParcelableHolder extension;
}
