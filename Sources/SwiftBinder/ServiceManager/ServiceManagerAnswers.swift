/// The refusals servicemanager answers with, whose messages changed between releases.
enum ServiceManagerRefusal {
    case applicationUID, addDenied, findDenied, watchDenied, listDenied
    case invalidName, invalidNameToWatch, isolatedCaller, linkToDeathFailed, linkToDeathFailedToWatch
    case nothingToUnregister
    case serviceDoesNotExist, onlyServiceMayRegisterCallback, serviceMismatch
    case notRegistered, onlyServiceMayUnregister, differentService, pendingClient, knownClient
}

extension AndroidRelease {
    /// The message servicemanager of this release puts in a refusal
    /// (cmds/servicemanager/ServiceManager.cpp): none at android-11.0.0_r1 and android-12.0.0_r1;
    /// addService's alone at android-13.0.0_r1; the android-14.0.0_r1 texts for 14 and 15 r1;
    /// "SELinux denied for service." for add and find checks from android-15.0.0_r6
    /// (canAddService, canFindService) and at android-16.0.0_r1.
    func message(_ refusal: ServiceManagerRefusal) -> String? {
        switch self {
        case .android10, .android11, .android12:
            return nil
        case .android13:
            switch refusal {
            case .applicationUID: return "App UIDs cannot add services"
            case .addDenied: return "SELinux denial"
            case .invalidName: return "Invalid service name"
            case .linkToDeathFailed: return "linkToDeath failure"
            default: return nil
            }
        case .android14, .android15r1, .android15, .android16:
            let perService = self >= .android15
            switch refusal {
            case .applicationUID: return "App UIDs cannot add services."
            case .addDenied, .findDenied: return perService ? "SELinux denied for service." : "SELinux denied."
            case .watchDenied: return perService ? "SELinux denied for service." : "SELinux"
            case .listDenied: return "SELinux denied."
            case .invalidName, .invalidNameToWatch: return "Invalid service name."
            case .isolatedCaller: return "isolated app"
            case .linkToDeathFailed: return "Couldn't linkToDeath."
            case .linkToDeathFailedToWatch: return "Couldn't link to death."
            case .nothingToUnregister: return "Nothing to unregister."
            case .serviceDoesNotExist: return "Service doesn't exist."
            case .onlyServiceMayRegisterCallback: return "Only service can register client callback for itself."
            case .serviceMismatch: return "Service mismatch."
            case .notRegistered: return "Service not registered."
            case .onlyServiceMayUnregister: return "Service can only unregister itself."
            case .differentService: return "Different service registered under this name."
            case .pendingClient: return "Can't unregister, pending client."
            case .knownClient: return "Can't unregister, known client."
            }
        }
    }

    /// Android 14 reworked lazy services: client counts are checked when a service is handed out
    /// or re-registered, and a new client callback hears at once that there are clients
    /// (b/278038751). Before, only the periodic check told callbacks anything.
    var checksClientsAtOnce: Bool { self >= .android14 }

    /// Android 11 kept the first registration of a name (`mNameToService.emplace`); later
    /// releases overwrite it.
    var keepsFirstRegistration: Bool { self == .android11 }

    /// Android 16 keeps whether a re-registered name had clients (b/279898063).
    var keepsClientStateOnReregistration: Bool { self >= .android16 }
}
