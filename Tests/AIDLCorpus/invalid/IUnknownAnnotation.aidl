// error: '@Whatever' is not a supported annotation
@Whatever interface IUnknownAnnotation { }
