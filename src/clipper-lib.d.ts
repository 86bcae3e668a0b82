declare module 'clipper-lib'
