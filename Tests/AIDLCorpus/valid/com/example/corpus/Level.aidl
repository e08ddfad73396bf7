package com.example.corpus;

enum Level { LOW = -1, MID, HIGH }
