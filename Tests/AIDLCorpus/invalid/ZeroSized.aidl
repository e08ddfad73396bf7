// error: must be positive
parcelable ZeroSized { int[0] none; }
