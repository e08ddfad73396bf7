interface IOneway10 { oneway int f(); }
