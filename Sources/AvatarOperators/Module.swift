// Module AvatarOperators.
